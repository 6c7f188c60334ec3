/**
 * Target z-scoring. The paper (rees-c/MoE `moe/utils.py`) takes mean and *unbiased* std (torch.std) over the
 * train and validation targets; test targets never enter.
 */
export interface Normalizer {
  mean: number;
  std: number;
}

export function fitNormalizer(targets: ArrayLike<number>, rows: readonly number[]): Normalizer {
  let n = 0;
  let sum = 0;
  for (const r of rows) {
    sum += targets[r];
    n++;
  }
  if (n === 0) throw new Error('cannot fit a normaliser on no rows');
  const mean = sum / n;
  let ss = 0;
  for (const r of rows) ss += (targets[r] - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  // A constant target would divide by zero; 1 keeps the loss in target units instead.
  return { mean, std: std > 0 && Number.isFinite(std) ? std : 1 };
}
