/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): tiny, fast and reproducible bit for bit in any language with 32-bit
 * integer arithmetic — what documented splits, seeded initialisation and shuffling need. Returns floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates (Durstenfeld, from the end) in place, driven by `rnd`: the one shuffle behind splits, batches and tie orders. */
export function shuffleInPlace(a: { length: number; [i: number]: number }, rnd: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
