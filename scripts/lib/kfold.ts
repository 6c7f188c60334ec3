/**
 * scikit-learn's `KFold(n_splits, shuffle=True, random_state=seed)` over n rows, and Matbench v0.1's use of it: every
 * Matbench regression task's official folds are `KFold(n_splits=5, shuffle=True, random_state=18012019)` over the
 * dataset's official (mbid) row order (matbench `scripts/mvb01_generate_validation.py`).
 */
import { NumpyRandomState } from './numpy-random-state.js';

export const MATBENCH_SEED = 18012019;
export const MATBENCH_FOLDS = 5;

export interface Fold {
  /** Row indices, ascending (sklearn builds both from a boolean mask). */
  train: number[];
  test: number[];
}

/**
 * The folds in sklearn's order: the indices 0..n−1 are shuffled once by RandomState(seed); fold f's test rows are the
 * f-th consecutive chunk, the first n % nSplits chunks one row longer (n // nSplits + 1).
 */
export function kFold(n: number, nSplits: number, seed: number): Fold[] {
  if (!Number.isInteger(nSplits) || nSplits < 2) throw new RangeError(`KFold needs at least 2 splits, got ${nSplits}`);
  if (!Number.isInteger(n) || n < nSplits) throw new RangeError(`cannot split ${n} rows into ${nSplits} folds`);
  const order = Array.from({ length: n }, (_, i) => i);
  new NumpyRandomState(seed).shuffle(order);
  const folds: Fold[] = [];
  let start = 0;
  for (let f = 0; f < nSplits; f++) {
    const size = Math.floor(n / nSplits) + (f < n % nSplits ? 1 : 0);
    const inTest = new Uint8Array(n);
    for (const i of order.slice(start, start + size)) inTest[i] = 1;
    start += size;
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (inTest[i] ? test : train).push(i);
    folds.push({ train, test });
  }
  return folds;
}

/** Matbench v0.1's official folds of a dataset with n rows. */
export function matbenchFolds(n: number): Fold[] {
  return kFold(n, MATBENCH_FOLDS, MATBENCH_SEED);
}
