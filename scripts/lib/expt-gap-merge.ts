/**
 * Merges experimental band-gap rows from several files into one label per composition, keeping provenance.
 *
 * Rules (docs/expt-gaps.md gives the reasons and the counts):
 * 1. Every formula is parsed with src/chem; a formula that does not parse is recorded and counted, never guessed at.
 * 2. Rows are grouped by `compositionKey`: pymatgen's reduced formula after scaling fractional amounts to the smallest
 *    integers (Te0.5Se0.5 and TeSe, Cu1.8S1 and Cu9S5 are one composition; the composition experts see identical inputs).
 * 3. The files copy one another (all descend from Zhuo et al. 2018), so a row whose composition and value equal a
 *    measurement already read from another file, not yet matched by a row of its own file, is that measurement again
 *    (a copy: it adds provenance, not weight). Equal values within one file stay separate reports.
 * 4. A composition's gap is the median of its measurements. Where some reports say metal (0 eV) and others give a
 *    gap, the majority decides (the median of the winning side); a tie is dropped and counted, because a 0 is a
 *    classification, not a measurement, and half a gap is a value no report supports.
 */
import { parseFormula } from '../../src/chem/formula.js';
import { reducedFormula } from '../../src/chem/reduced-formula.js';
import type { Composition } from '../../src/chem/types.js';

export interface GapRowIn<S extends string = string> {
  source: S;
  row: number;
  formula: string;
  gap: number;
}

export interface Measurement<S extends string = string> {
  gap: number;
  /** The file that first gave it and every file row that repeats it. */
  rows: { source: S; row: number }[];
}

export type Resolution = 'single' | 'agree' | 'median' | 'metal-majority' | 'gap-majority';

export interface MergedGap<S extends string = string> {
  /** compositionKey: the merge and leakage key. */
  key: string;
  /** pymatgen reduced formula of the first row read (fractional amounts as written). */
  formula: string;
  composition: Composition;
  gap: number;
  resolution: Resolution;
  /** Measurement values, ascending. */
  values: number[];
  spread: number;
  /** File rows per source (copies included). */
  sources: Partial<Record<S, number>>;
  measurements: Measurement<S>[];
  /** Formulas as written, distinct. */
  writtenAs: string[];
}

export interface MergeResult<S extends string = string> {
  records: MergedGap<S>[];
  unparseable: { source: S; row: number; formula: string; reason: string }[];
  /** Compositions whose reports split evenly between metal and non-metal. */
  dropped: { key: string; values: number[]; reason: string }[];
  /** Rows recognised as copies of a measurement read from another file, per source. */
  copies: Partial<Record<S, number>>;
}

const SCALE_LIMIT = 1000;

/** Reduced formula of `amounts` scaled to the smallest integers (up to ×1000), else of the amounts as they are. */
export function compositionKey(amounts: Composition): string {
  const vals = Object.values(amounts);
  for (let s = 1; s <= SCALE_LIMIT; s++) {
    if (vals.every((v) => Math.abs(v * s - Math.round(v * s)) < 1e-6 * Math.max(1, v * s))) {
      if (s === 1) return reducedFormula(amounts);
      return reducedFormula(Object.fromEntries(Object.entries(amounts).map(([el, v]) => [el, Math.round(v * s)])));
    }
  }
  return reducedFormula(amounts);
}

export const median = (sorted: readonly number[]): number => {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
};

/** Rule 4 on the measurement values of one composition. */
export function resolveGap(values: readonly number[]): { gap: number; resolution: Resolution } | { dropped: string } {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { dropped: 'no measurement' };
  if (sorted.length === 1) return { gap: sorted[0], resolution: 'single' };
  if (sorted[0] === sorted[sorted.length - 1]) return { gap: sorted[0], resolution: 'agree' };
  const metal = sorted.filter((v) => v === 0).length;
  const gapped = sorted.length - metal;
  if (metal === 0) return { gap: median(sorted), resolution: 'median' };
  if (metal > gapped) return { gap: 0, resolution: 'metal-majority' };
  if (gapped > metal) return { gap: median(sorted.slice(metal)), resolution: 'gap-majority' };
  return { dropped: `${metal} reports of a metal and ${gapped} of a gap` };
}

interface Group<S extends string> {
  formula: string;
  composition: Composition;
  measurements: (Measurement<S> & { matchedBy: Set<S> })[];
  writtenAs: Set<string>;
  sources: Partial<Record<S, number>>;
}

/** Rules 1–4 over rows in reading order (the first file read is the one copies are matched against first). */
export function mergeGapRows<S extends string>(rows: readonly GapRowIn<S>[]): MergeResult<S> {
  const groups = new Map<string, Group<S>>();
  const unparseable: MergeResult<S>['unparseable'] = [];
  const copies: Partial<Record<S, number>> = {};
  for (const r of rows) {
    let amounts: Composition;
    let formula: string;
    try {
      const p = parseFormula(r.formula);
      amounts = p.amounts;
      formula = p.reducedFormula;
    } catch (err) {
      unparseable.push({ source: r.source, row: r.row, formula: r.formula, reason: (err as Error).message });
      continue;
    }
    if (!Number.isFinite(r.gap) || r.gap < 0) throw new RangeError(`${r.source} row ${r.row}: gap ${r.gap} is not a non-negative number`);
    const key = compositionKey(amounts);
    let g = groups.get(key);
    if (!g) {
      g = { formula, composition: amounts, measurements: [], writtenAs: new Set(), sources: {} };
      groups.set(key, g);
    }
    g.writtenAs.add(r.formula);
    g.sources[r.source] = (g.sources[r.source] ?? 0) + 1;
    const same = g.measurements.find((m) => m.gap === r.gap && m.rows[0].source !== r.source && !m.matchedBy.has(r.source));
    if (same) {
      same.rows.push({ source: r.source, row: r.row });
      same.matchedBy.add(r.source);
      copies[r.source] = (copies[r.source] ?? 0) + 1;
    } else {
      g.measurements.push({ gap: r.gap, rows: [{ source: r.source, row: r.row }], matchedBy: new Set([r.source]) });
    }
  }
  const records: MergedGap<S>[] = [];
  const dropped: MergeResult<S>['dropped'] = [];
  for (const [key, g] of groups) {
    const values = g.measurements.map((m) => m.gap).sort((a, b) => a - b);
    const res = resolveGap(values);
    if ('dropped' in res) {
      dropped.push({ key, values, reason: res.dropped });
      continue;
    }
    records.push({
      key, formula: g.formula, composition: g.composition, gap: res.gap, resolution: res.resolution, values, spread: values[values.length - 1] - values[0], sources: g.sources,
      measurements: g.measurements.map((m) => ({ gap: m.gap, rows: m.rows })), writtenAs: [...g.writtenAs],
    });
  }
  return { records, unparseable, dropped, copies };
}
