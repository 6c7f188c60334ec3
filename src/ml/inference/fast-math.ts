/**
 * softplus and sigmoid for the compiled forward pass, in float64 with polynomial exp and log1p.
 *
 * Why not Math.exp / Math.log1p: V8 calls them out of line (~8 ns each here); a CGCNN conv evaluates a sigmoid and a
 * softplus per edge and channel (15k pairs for a 20-site crystal), and that dominated a small structure's cost. The
 * inlined polynomials below cost a few ns and stay within ~1e-10 relative error, far below the float32 rounding
 * (6e-8) of the values they produce; test/ml/inference-math.test.ts checks them against Math.* over the range used.
 */

const LOG2E = 1.4426950408889634;
/** ln 2 split in a high part with trailing zero bits and the rest, so k·LN2_HI is exact for the k used here. */
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
/** Beyond this exp(-a) < 4e-44: reported as 0 (below float32's smallest subnormal, 1.4e-45, after any use here). */
const EXP_CUTOFF = 100;
const POW2_MIN = -Math.ceil(EXP_CUTOFF * LOG2E) - 1;
/** 2^k for k = POW2_MIN .. 0, indexed by k - POW2_MIN. */
const POW2 = Float64Array.from({ length: -POW2_MIN + 1 }, (_, i) => 2 ** (i + POW2_MIN));

/** exp(-a) for a ≥ 0 (NaN stays NaN). Range reduction a = k·ln2 + r, |r| ≤ ln2/2, then Taylor to r⁹ (error ≤ 2e-10 rel). */
export function expNeg(a: number): number {
  if (a > EXP_CUTOFF) return 0;
  // k = round(a·log2 e) as a small integer (| 0 keeps it an int for the table index); exp(-a) = 2^-k · e^r.
  const k = (a * LOG2E + 0.5) | 0;
  const r = k * LN2_HI - a + k * LN2_LO;
  const p =
    1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880)))))))));
  return p * POW2[-k - POW2_MIN];
}

/**
 * log(1 + t) for t in [0, 1]: with u = t / (2 + t) ∈ [0, 1/3], log1p(t) = 2·atanh(u) = 2(u + u³/3 + u⁵/5 + …);
 * terms to u¹⁹ leave a relative error below 1e-10 (u² ≤ 1/9).
 */
export function log1pUnit(t: number): number {
  const u = t / (2 + t);
  const v = u * u;
  return (
    2 * u * (1 + v * (1 / 3 + v * (1 / 5 + v * (1 / 7 + v * (1 / 9 + v * (1 / 11 + v * (1 / 13 + v * (1 / 15 + v * (1 / 17 + v * (1 / 19))))))))))
  );
}

/** log(1 + eˣ), computed as max(x, 0) + log1p(e^-|x|), which neither overflows nor loses the small tail. */
export function softplus(x: number): number {
  // Math.max / Math.abs compile to branch-free instructions; a ternary on the random sign mispredicts half the time.
  return Math.max(x, 0) + log1pUnit(expNeg(Math.abs(x)));
}

/** 1 / (1 + e^-x), from e^-|x| so that neither side overflows. */
export function sigmoid(x: number): number {
  const e = expNeg(Math.abs(x));
  // e^-|x| / (1 + e^-|x|) for x < 0, 1 / (1 + e^-|x|) otherwise: the numerator max(e, [x ≥ 0]) avoids a branch (e ≤ 1).
  return Math.max(e, +(x >= 0)) / (1 + e);
}

