/**
 * matbench_expt_gap under Matbench v0.1's folds, with two kinds of training data per fold:
 * - 'matbench': the fold's training rows as Matbench gives them (the leaderboard protocol);
 * - 'merged': every composition of the merged experimental set (expt-gap-merge.ts) except those of the fold's test
 *   rows, compared by compositionKey (so neither a reduced formula nor a re-scaled fractional formula of a test row is
 *   trained on), with the merged labels.
 * Validation rows (early stopping, epoch selection) are a seeded 10 % of the training compositions; the test fold is
 * only ever predicted.
 */
import { parseFormula } from '../../src/chem/formula.js';
import { mulberry32, shuffleInPlace } from '../../src/util/random.js';
import { compositionKey } from './expt-gap-merge.js';
import type { ExptGapMerge } from './expt-gap-stats.js';
import type { Fold } from './kfold.js';

export const VARIANTS = ['matbench', 'merged'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface GapRow {
  formula: string;
  gap: number;
  key: string;
}

export interface MatbenchGapRow extends GapRow {
  row: number;
  mbid: string;
}

/** matbench_expt_gap in the official order, each row with its composition key. */
export function matbenchGapRows(m: ExptGapMerge): MatbenchGapRow[] {
  return m.raw
    .filter((r) => r.source === 'matbench_expt_gap')
    .map((r) => ({ row: r.row, mbid: r.id, formula: r.formula, gap: r.gap, key: compositionKey(parseFormula(r.formula).amounts) }));
}

export interface FoldData {
  train: GapRow[];
  test: MatbenchGapRow[];
  /** Merged compositions left out because a test row has them ('merged' only). */
  excluded: number;
}

export function foldData(rows: readonly MatbenchGapRow[], m: ExptGapMerge, fold: Fold, variant: Variant): FoldData {
  const test = fold.test.map((i) => rows[i]);
  if (variant === 'matbench') {
    return { train: fold.train.map((i) => rows[i]), test, excluded: 0 };
  }
  const testKeys = new Set(test.map((r) => r.key));
  const kept = m.records.filter((r) => !testKeys.has(r.key));
  const data: FoldData = { train: kept.map((r) => ({ formula: r.formula, gap: r.gap, key: r.key })), test, excluded: m.records.length - kept.length };
  assertNoTestComposition(data);
  return data;
}

/** Throws when a training row shares a composition (key or reduced formula) with a test row. */
export function assertNoTestComposition(data: Pick<FoldData, 'train' | 'test'>): void {
  const testKeys = new Set(data.test.map((r) => r.key));
  const testReduced = new Set(data.test.map((r) => parseFormula(r.formula).reducedFormula));
  for (const r of data.train) {
    if (testKeys.has(r.key) || testReduced.has(parseFormula(r.formula).reducedFormula)) throw new Error(`training row ${r.formula} has the composition of a test row`);
  }
}

/**
 * Positions of `rows` for training and validation: a seeded `fraction` of the distinct composition keys (Fisher–Yates
 * with mulberry32 over first-occurrence order) is validation, so a composition is never on both sides.
 */
export function holdOutCompositions(rows: readonly Pick<GapRow, 'key'>[], fraction: number, seed: number): { train: number[]; val: number[] } {
  const keys = [...new Set(rows.map((r) => r.key))];
  const order = Array.from(keys, (_, i) => i);
  shuffleInPlace(order, mulberry32(seed));
  const val = new Set(order.slice(0, Math.max(1, Math.round(keys.length * fraction))).map((i) => keys[i]));
  const out = { train: [] as number[], val: [] as number[] };
  rows.forEach((r, i) => (val.has(r.key) ? out.val : out.train).push(i));
  return out;
}
