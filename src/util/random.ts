/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): tiny, fast and reproducible bit for bit in any language with 32-bit
 * integer arithmetic — what documented splits, seeded initialisation and shuffling need. Floats in [0, 1).
 *
 * The whole state is one 32-bit word, readable and settable, so a training run that is checkpointed and resumed
 * continues the very sequence it would have drawn.
 */
export class Mulberry32 {
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Bound to the instance: pass it where a `() => number` is expected. */
  readonly next = (): number => {
    const a = (this.state + 0x6d2b79f5) >>> 0;
    this.state = a;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mulberry32(seed: number): () => number {
  return new Mulberry32(seed).next;
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
