import { mulberry32, shuffleInPlace } from '../util/random.js';
import { createHash } from 'node:crypto';
import { UnprocessableError } from '../errors.js';

/** The paper's 70/15/15 train/val/test proportions. */
export const DEFAULT_FRACTIONS: readonly [number, number, number] = [0.7, 0.15, 0.15];

/** A split request that cannot be honoured (422, with a stable code). */
export class SplitError extends UnprocessableError {}

export interface SplitIndices {
  train: number[];
  val: number[];
  test: number[];
}

/** 0..n-1 shuffled by Fisher–Yates (Durstenfeld, from the end) driven by mulberry32(seed). */
export function seededPermutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(p, mulberry32(seed));
  return p;
}

/**
 * Random split as in the paper: sizes are int(f·n) (truncation), taken in order from one seeded permutation,
 * so the 0–2 rows left over by truncation are in no split.
 */
export function randomSplit(n: number, seed: number, fractions: readonly number[] = DEFAULT_FRACTIONS): SplitIndices {
  if (fractions.length !== 3) throw new SplitError('split_fractions_invalid', `fractions must be three numbers (train, val, test), got ${fractions.length}`);
  fractions.forEach((f, k) => {
    if (!(Number.isFinite(f) && f > 0)) {
      throw new SplitError('split_fraction_not_positive', `the ${['train', 'val', 'test'][k]} fraction must be a positive number, got ${f}`);
    }
  });
  const sum = fractions[0] + fractions[1] + fractions[2];
  if (sum > 1 + 1e-9) throw new SplitError('split_fractions_exceed_one', `the fractions sum to ${sum}; they must sum to at most 1`);
  const [nTrain, nVal, nTest] = fractions.map((f) => Math.floor(f * n));
  if (nTrain === 0) {
    throw new SplitError('split_train_empty', `a train fraction of ${fractions[0]} of ${n} rows leaves no training rows`);
  }
  const p = seededPermutation(n, seed);
  return { train: p.slice(0, nTrain), val: p.slice(nTrain, nTrain + nVal), test: p.slice(nTrain + nVal, nTrain + nVal + nTest) };
}

/** Checks user-given index lists against a dataset of n rows: integers in [0, n), no index twice, train non-empty. */
export function checkExplicitSplit(n: number, split: SplitIndices): SplitIndices {
  if (split.train.length === 0) throw new SplitError('split_train_empty', 'the train list is empty; a split needs at least one training row');
  const seen = new Map<number, string>();
  for (const part of ['train', 'val', 'test'] as const) {
    for (const [pos, i] of split[part].entries()) {
      if (!Number.isInteger(i)) throw new SplitError('split_index_not_integer', `${part}[${pos}] is ${i}, not a row index`, { part, position: pos });
      if (i < 0 || i >= n) {
        throw new SplitError('split_index_out_of_range', `${part}[${pos}] = ${i} is out of range: the dataset has rows 0 to ${n - 1}`, { part, position: pos, value: i });
      }
      const first = seen.get(i);
      if (first === part) throw new SplitError('split_index_duplicate', `row ${i} appears twice in ${part}`, { part, value: i });
      if (first !== undefined) throw new SplitError('split_overlap', `row ${i} is in both ${first} and ${part}; the lists must be disjoint`, { parts: [first, part], value: i });
      seen.set(i, part);
    }
  }
  return { train: [...split.train], val: [...split.val], test: [...split.test] };
}

/** Content identity of a split: the three index lists in order (the method that produced them does not matter). */
export function splitContentHash(split: SplitIndices): string {
  return createHash('sha256')
    .update('matmoe-split/1\n')
    .update(`${split.train.join(',')}\n${split.val.join(',')}\n${split.test.join(',')}\n`)
    .digest('hex');
}
