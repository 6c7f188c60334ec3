/**
 * The composition-level pre-training sets of ../shared/data/sources (see its README): `<name>.csv.gz` with
 * `id,formula,target`, and `index.json` describing each set. Used by the zoo script and tests; the running service
 * never reads ../shared.
 *
 * A set becomes one row per reduced formula with a held-out split:
 * - Rows whose formulas reduce to the same composition (polymorphs) are merged and their targets averaged: a
 *   composition model cannot tell polymorphs apart, the mean is its MSE-optimal label, and averaging keeps a
 *   formula with many polymorphs from counting many times. One formula, one row, so no formula straddles the split.
 * - Split: where the set carries its own (jarvis3d_*: `train-<row>` / `test-<row>` = CrossPropertyTL's split), its
 *   test rows are the validation set; a formula that occurs on both sides goes to validation ("test wins"), so the
 *   validation set is CrossPropertyTL's whole test set. Elsewhere (Matbench `mbid`s) a seeded random 10 % of the
 *   formulas is held out (`SPLIT_SEED`, Fisher–Yates over first-occurrence order with mulberry32).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseFormula } from '../../src/chem/formula.js';
import type { Composition } from '../../src/chem/types.js';
import { SHARED_DIR } from '../../src/paths.js';
import { mulberry32, shuffleInPlace } from '../../src/util/random.js';

export const SOURCES_DIR = join(SHARED_DIR, 'data', 'sources');

/** One entry of sources/index.json (the fields used here). */
export interface SourceMeta {
  name: string;
  file: string;
  rows: number;
  target_column: string;
  unit: string;
  transform: string | null;
  origin: string;
  origin_files: string[];
  id_scheme: string;
  note: string | null;
}

export interface SourceRow {
  id: string;
  formula: string;
  target: number;
}

/** A set as the trainer sees it: one row per reduced formula. */
export interface SourceSet {
  meta: SourceMeta;
  /** Reduced formulas, in order of first occurrence in the file. */
  formulas: string[];
  compositions: Composition[];
  /** Mean target of each formula's rows, in the set's unit. */
  targets: Float64Array;
  /** Rows of the file merged into each formula. */
  multiplicity: Int32Array;
  /** Indices into `formulas`. */
  train: Int32Array;
  val: Int32Array;
  splitKind: 'source' | 'random';
  /** Rows in the file before merging. */
  fileRows: number;
}

export const VAL_FRACTION = 0.1;
export const SPLIT_SEED = 20240605;

export function sourceIndex(dir = SOURCES_DIR): SourceMeta[] {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as SourceMeta[];
}

export function readSourceRows(name: string, dir = SOURCES_DIR): SourceRow[] {
  const text = gunzipSync(readFileSync(join(dir, `${name}.csv.gz`))).toString('utf8');
  const lines = text.split('\n');
  if (lines[0].trim() !== 'id,formula,target') throw new Error(`${name}.csv.gz: unexpected header "${lines[0]}"`);
  const rows: SourceRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    // Formulas hold no commas; ids neither.
    const [id, formula, target] = line.split(',');
    const y = Number(target);
    if (!Number.isFinite(y)) throw new Error(`${name}.csv.gz line ${i + 1}: target "${target}" is not a number`);
    rows.push({ id, formula, target: y });
  }
  return rows;
}

/** Deterministic hash of a string (FNV-1a), used to give every set its own split stream. */
export function stringSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Merges polymorphs and splits. */
export function buildSourceSet(meta: SourceMeta, rows: readonly SourceRow[]): SourceSet {
  const byFormula = new Map<string, number>();
  const formulas: string[] = [];
  const compositions: Composition[] = [];
  const sums: number[] = [];
  const counts: number[] = [];
  const inTest: boolean[] = [];
  const hasOwnSplit = rows.length > 0 && rows.every((r) => /^(train|test)-\d+$/.test(r.id));
  for (const r of rows) {
    const parsed = parseFormula(r.formula);
    let k = byFormula.get(parsed.reducedFormula);
    if (k === undefined) {
      k = formulas.length;
      byFormula.set(parsed.reducedFormula, k);
      formulas.push(parsed.reducedFormula);
      compositions.push(parsed.fractions);
      sums.push(0);
      counts.push(0);
      inTest.push(false);
    }
    sums[k] += r.target;
    counts[k]++;
    if (hasOwnSplit && r.id.startsWith('test-')) inTest[k] = true;
  }
  const n = formulas.length;
  const targets = Float64Array.from(sums, (s, i) => s / counts[i]);
  let train: number[];
  let val: number[];
  if (hasOwnSplit) {
    train = [];
    val = [];
    for (let i = 0; i < n; i++) (inTest[i] ? val : train).push(i);
  } else {
    const order = Array.from({ length: n }, (_, i) => i);
    shuffleInPlace(order, mulberry32((SPLIT_SEED ^ stringSeed(meta.name)) >>> 0));
    const nVal = Math.max(1, Math.round(n * VAL_FRACTION));
    val = order.slice(0, nVal).sort((a, b) => a - b);
    train = order.slice(nVal).sort((a, b) => a - b);
  }
  return {
    meta,
    formulas,
    compositions,
    targets,
    multiplicity: Int32Array.from(counts),
    train: Int32Array.from(train),
    val: Int32Array.from(val),
    splitKind: hasOwnSplit ? 'source' : 'random',
    fileRows: rows.length,
  };
}

export function loadSourceSet(name: string, dir = SOURCES_DIR): SourceSet {
  const meta = sourceIndex(dir).find((m) => m.name === name);
  if (!meta) throw new Error(`no source set "${name}" in ${dir}/index.json`);
  return buildSourceSet(meta, readSourceRows(name, dir));
}

/** A seeded random `fraction` of the training and of the validation formulas (for trials and tests); rows keep their indices. */
export function subsampleSplit(set: SourceSet, fraction: number, seed = 1): { train: Int32Array; val: Int32Array } {
  const rnd = mulberry32(seed);
  const pick = (rows: Int32Array) => rows.filter(() => rnd() < fraction);
  return { train: pick(set.train), val: pick(set.val) };
}
