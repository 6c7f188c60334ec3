/**
 * numpy's legacy `np.random.RandomState(seed)`, as far as scikit-learn's shuffled KFold uses it: MT19937 seeded with
 * `init_genrand` (a 32-bit integer seed, numpy's `_legacy_seeding`), 32-bit draws, bounded integers by masked
 * rejection sampling (numpy's `random_interval`, the legacy `rk_interval`) and `shuffle` of a 1-d array (Fisher–Yates
 * from the end). Written so Matbench's official folds can be regenerated without Python; the fold fixture under
 * test/data/matbench checks it against scikit-learn itself.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class NumpyRandomState {
  private readonly mt = new Uint32Array(N);
  private mti = N;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in [0, 2**32 - 1], got ${seed}`);
    // init_genrand: mt[i] = 1812433253 * (mt[i-1] ^ (mt[i-1] >>> 30)) + i, all mod 2**32.
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = N;
  }

  /** Regenerates the 624-word state (genrand_int32's twist). */
  private twist(): void {
    const mt = this.mt;
    for (let kk = 0; kk < N; kk++) {
      const y = (mt[kk] & UPPER_MASK) | (mt[(kk + 1) % N] & LOWER_MASK);
      mt[kk] = (mt[(kk + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    this.mti = 0;
  }

  /** The next 32-bit output (tempered), as an unsigned number. */
  nextUint32(): number {
    if (this.mti >= N) this.twist();
    let y = this.mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * A uniform integer in [0, max] (inclusive): draws masked to the smallest all-ones bit mask ≥ max until one is ≤ max.
   * Only the 32-bit branch is needed (array lengths here are far below 2**32).
   */
  interval(max: number): number {
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`interval bound must be an integer in [0, 2**32 - 1], got ${max}`);
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }

  /** `RandomState.shuffle(x)` of a 1-d array, in place: for i from n−1 down to 1, swap x[i] with x[interval(i)]. */
  shuffle(x: { length: number; [i: number]: number }): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
  }
}
