/**
 * Stored runs of the experimental band-gap benchmarks (bench/results/*.json) and the generated sections of
 * docs/expt-gaps.md (between `<!-- name:begin -->` and `<!-- name:end -->`): the merged data's counts, the
 * matbench_expt_gap table beside the leaderboard, the textbook compounds. Prose outside the markers is hand-written.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../../src/paths.js';
import { writeDocSection } from './doc-section.js';

export const DOC = join(ROOT, 'docs', 'expt-gaps.md');

export const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
/** Population std (numpy's default, as Matbench reports the spread of its 5 folds). */
export const std = (v: readonly number[]): number => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
export const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x.toPrecision(digits)).toString());

export function loadRuns<T>(file: string): T[] {
  const path = join(ROOT, 'bench', 'results', file);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T[]) : [];
}

/** Replaces the runs that `same` matches by `run` and writes the file back. */
export function saveRun<T>(file: string, run: T, same: (a: T, b: T) => boolean): void {
  const path = join(ROOT, 'bench', 'results', file);
  const all = loadRuns<T>(file).filter((r) => !same(r, run));
  all.push(run);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(all, null, 1)}\n`);
}

/** Writes `body` between the section's markers in docs/expt-gaps.md (appending the section when it is missing). */
export function writeSection(name: string, body: string, doc = DOC): void {
  writeDocSection(doc, name, body);
}

export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
