/**
 * Readers of the experimental band-gap files in ../shared/data/raw (see data/SOURCES.md), one row per line as
 * written, nothing merged or dropped: the merge rules live in expt-gap-merge.ts. All four sets descend from Zhuo et
 * al., J. Phys. Chem. Lett. 9, 1668 (2018):
 * - `expt_gap` (matminer): Zhuo's 6354 reports, repeated measurements of one compound as separate rows, the 2458
 *   compounds reported as metals at 0 eV;
 * - `matbench_expt_gap` (Matbench v0.1): Zhuo deduplicated by composition (compositions whose reports span more than
 *   0.1 eV removed, one report kept per composition), 4604 rows in the official mbid order;
 * - `expt_gap_kingsbury` (matminer): the matbench rows in the same order with a `likely_mpid` added;
 * - `expt_non_metals` (roost): Zhuo's non-zero rows, `material_id` = Zhuo row + 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SHARED_DIR } from '../../src/paths.js';

export const RAW_DIR = join(SHARED_DIR, 'data', 'raw');

/** In the order the merge reads them: Zhuo's own reports first, so later copies are recognised as copies. */
export const GAP_SOURCES = ['expt_gap', 'matbench_expt_gap', 'expt_gap_kingsbury', 'expt_non_metals'] as const;
export type GapSource = (typeof GAP_SOURCES)[number];

export const GAP_SOURCE_FILES: Readonly<Record<GapSource, string>> = {
  expt_gap: 'expt_gap/expt_gap.csv',
  matbench_expt_gap: 'matbench_expt_gap/matbench_expt_gap.json.gz',
  expt_gap_kingsbury: 'expt_gap_kingsbury/expt_gap_kingsbury.csv',
  expt_non_metals: 'roost_comp/expt-non-metals.csv',
};

/** One line of one file. */
export interface RawGapRow {
  source: GapSource;
  /** 0-based data row in the file. */
  row: number;
  /** The file's own id (mbid, likely_mpid, roost material_id) or the row number. */
  id: string;
  /** As written in the file. */
  formula: string;
  /** eV; 0 means reported as a metal. */
  gap: number;
}

/** A header-checked CSV without quoting (none of these files quotes a field; a quote is refused, not misread). */
function readCsv(path: string, header: readonly string[]): string[][] {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l !== '');
  const got = lines[0].split(',');
  if (got.join(',') !== header.join(',')) throw new Error(`${path}: header ${got.join(',')}, expected ${header.join(',')}`);
  return lines.slice(1).map((l, i) => {
    if (l.includes('"')) throw new Error(`${path}: line ${i + 2} is quoted; this reader does not handle quoting`);
    const cells = l.split(',');
    if (cells.length !== header.length) throw new Error(`${path}: line ${i + 2} has ${cells.length} fields, expected ${header.length}`);
    return cells;
  });
}

function gapValue(text: string, where: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0) throw new Error(`${where}: band gap "${text}" is not a non-negative number`);
  return v;
}

/** Matbench's official id of row i (the artifact's rows are in mbid order; checked by test/data/matbench/make_folds.py). */
export const matbenchId = (row: number): string => `mb-expt-gap-${String(row + 1).padStart(4, '0')}`;

export function readGapSource(source: GapSource, dir = RAW_DIR): RawGapRow[] {
  const path = join(dir, GAP_SOURCE_FILES[source]);
  switch (source) {
    case 'expt_gap':
      return readCsv(path, ['', 'formula', 'gap expt']).map(([i, formula, gap], row) => ({ source, row, id: i, formula, gap: gapValue(gap, `${path} row ${row}`) }));
    case 'expt_gap_kingsbury':
      return readCsv(path, ['', 'likely_mpid', 'expt_gap', 'formula']).map(([i, mpid, gap, formula], row) => ({ source, row, id: mpid || i, formula, gap: gapValue(gap, `${path} row ${row}`) }));
    case 'expt_non_metals':
      return readCsv(path, ['material_id', 'composition', 'Eg']).map(([id, formula, gap], row) => ({ source, row, id, formula, gap: gapValue(gap, `${path} row ${row}`) }));
    case 'matbench_expt_gap': {
      // pandas orient="split"; the same rows in the same order as the official .json.bz2, which Node cannot read.
      const doc = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as { index: number[]; columns: string[]; data: [string, number][] };
      if (doc.columns.join(',') !== 'composition,gap expt') throw new Error(`${path}: columns ${doc.columns.join(',')}`);
      return doc.data.map(([formula, gap], row) => {
        if (doc.index[row] !== row) throw new Error(`${path}: row ${row} has index ${doc.index[row]}; the official order is 0..n-1`);
        return { source, row, id: matbenchId(row), formula, gap: gapValue(String(gap), `${path} row ${row}`) };
      });
    }
  }
}

export function readAllGapSources(dir = RAW_DIR): RawGapRow[] {
  return GAP_SOURCES.flatMap((s) => readGapSource(s, dir));
}
