/**
 * The merged experimental band-gap set as the benchmarks and the shipped model read it (`loadExptGaps`), and the
 * counts docs/expt-gaps.md reports about it (`exptGapStats`), computed from the merge each time, never copied by hand.
 */
import { GAP_SOURCES, GAP_SOURCE_FILES, readAllGapSources, type GapSource, type RawGapRow } from './expt-gap-sources.js';
import { mergeGapRows, type MergeResult, type MergedGap } from './expt-gap-merge.js';

export type ExptGapMerge = MergeResult<GapSource> & { raw: RawGapRow[] };

/** All four files merged (expt-gap-merge.ts rules). */
export function loadExptGaps(dir?: string): ExptGapMerge {
  const raw = readAllGapSources(dir);
  return { ...mergeGapRows(raw), raw };
}

export interface SourceStats {
  source: GapSource;
  rows: number;
  unparseable: number;
  /** Rows that repeat a measurement read from another file. */
  copies: number;
  /** Rows that are measurements of their own. */
  measurements: number;
  /** Merged compositions the file has rows of. */
  compositions: number;
  zeros: number;
}

export interface ExptGapStats {
  sources: SourceStats[];
  /** Compositions shared by each pair of files. */
  overlaps: { a: GapSource; b: GapSource; compositions: number }[];
  compositions: number;
  measurements: number;
  multiMeasured: number;
  /** Compositions whose measurements disagree, and by how much (max − min). */
  disagree: number;
  spreadOver: { threshold: number; compositions: number }[];
  resolutions: Record<MergedGap['resolution'], number>;
  droppedTies: number;
  zeros: number;
  zeroFraction: number;
  meanGap: number;
  /** Compositions not among matbench_expt_gap's, and how many of them are metals. */
  beyondMatbench: number;
  beyondMatbenchZeros: number;
  /** Of those, compositions whose reports span 0.1 eV or more (Matbench's reason to drop a composition). */
  beyondMatbenchWide: number;
  /** matbench rows whose merged label differs from the matbench value. */
  matbenchRelabelled: number;
  matbenchMaxRelabel: number;
  /** The same, over compositions Matbench lists once (the others it lists twice, e.g. TeSe and Se0.5Te0.5). */
  matbenchMaxRelabelSingle: number;
}

export function exptGapStats(m: ExptGapMerge): ExptGapStats {
  const has = (r: MergedGap<GapSource>, s: GapSource) => (r.sources[s] ?? 0) > 0;
  const sources = GAP_SOURCES.map((source): SourceStats => {
    const raw = m.raw.filter((r) => r.source === source);
    const copies = m.copies[source] ?? 0;
    const unparseable = m.unparseable.filter((u) => u.source === source).length;
    return {
      source, rows: raw.length, unparseable, copies, measurements: raw.length - unparseable - copies,
      compositions: m.records.filter((r) => has(r, source)).length, zeros: raw.filter((r) => r.gap === 0).length,
    };
  });
  const overlaps = GAP_SOURCES.flatMap((a, i) => GAP_SOURCES.slice(i + 1).map((b) => ({ a, b, compositions: m.records.filter((r) => has(r, a) && has(r, b)).length })));
  const resolutions: ExptGapStats['resolutions'] = { single: 0, agree: 0, median: 0, 'metal-majority': 0, 'gap-majority': 0 };
  for (const r of m.records) resolutions[r.resolution]++;
  const mb = new Map(m.raw.filter((r) => r.source === 'matbench_expt_gap').map((r) => [`${r.row}`, r.gap]));
  let relabelled = 0;
  let maxRelabel = 0;
  let maxRelabelSingle = 0;
  for (const r of m.records) {
    for (const meas of r.measurements) {
      for (const row of meas.rows) {
        if (row.source !== 'matbench_expt_gap') continue;
        const d = Math.abs(r.gap - mb.get(`${row.row}`)!);
        if (d > 0) relabelled++;
        maxRelabel = Math.max(maxRelabel, d);
        if (r.sources.matbench_expt_gap === 1) maxRelabelSingle = Math.max(maxRelabelSingle, d);
      }
    }
  }
  const zeros = m.records.filter((r) => r.gap === 0).length;
  const beyond = m.records.filter((r) => !has(r, 'matbench_expt_gap'));
  return {
    sources, overlaps,
    compositions: m.records.length,
    measurements: m.records.reduce((s, r) => s + r.values.length, 0),
    multiMeasured: m.records.filter((r) => r.values.length > 1).length,
    disagree: m.records.filter((r) => r.spread > 0).length,
    spreadOver: [0.1, 0.5, 1].map((threshold) => ({ threshold, compositions: m.records.filter((r) => r.spread > threshold + 1e-9).length })),
    resolutions, droppedTies: m.dropped.length,
    zeros, zeroFraction: zeros / m.records.length,
    meanGap: m.records.reduce((s, r) => s + r.gap, 0) / m.records.length,
    beyondMatbench: beyond.length, beyondMatbenchZeros: beyond.filter((r) => r.gap === 0).length,
    beyondMatbenchWide: beyond.filter((r) => r.spread >= 0.1 - 1e-9).length,
    matbenchRelabelled: relabelled, matbenchMaxRelabel: maxRelabel, matbenchMaxRelabelSingle: maxRelabelSingle,
  };
}

/** The `data` field of the shipped expt_bandgap card: what the merged set it was trained on is, and where it came from. */
export function mergedDataCard(m: ExptGapMerge): Record<string, unknown> {
  const stats = exptGapStats(m);
  return {
    description: 'Zhuo et al. (2018) experimental band gaps from four files, merged by composition: median of repeated reports, copies between files counted once, metal/gap disagreements by majority (ties dropped); see docs/expt-gaps.md',
    files: Object.values(GAP_SOURCE_FILES).map((f) => `shared/data/raw/${f}`),
    sources: stats.sources,
    compositions: stats.compositions,
    reports: stats.measurements,
    multiReported: stats.multiMeasured,
    droppedMetalGapTies: m.dropped.map((d) => d.key),
    unparseable: m.unparseable.map((u) => `${u.source} row ${u.row}: ${u.formula}`),
    metalFraction: stats.zeroFraction,
    meanGap: stats.meanGap,
    beyondMatbench: stats.beyondMatbench,
  };
}
