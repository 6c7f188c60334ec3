/**
 * The paper's 19 target tasks and 5 published splits as curated in ../shared/data/tasks (see its README):
 * rows in the paper's order, `splits/seed<k>.json` with 0-based row indices, reference MAEs in index.json.
 * Used by benchmarks and tests; the service never reads ../shared.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SHARED_DIR } from '../../src/paths.js';
import { parsePymatgenStructure } from '../../src/chem/structure/index.js';
import { crystalGraph } from '../../src/ml/cgcnn/batching.js';
import type { ExpertInput } from '../../src/ml/experts/expert-kind.js';
import type { DataSplit } from '../../src/ml/mixture/trainer.js';

export interface TaskMeta {
  key: string;
  title: string;
  unit: string;
  transform: string | null;
  rows: number | null;
  has_structures: boolean;
  available: boolean;
  headline: boolean;
  file: string | null;
  split_sizes: { train: number; val: number; test: number };
  moe18_mae: number | null;
  moe18_mae_std?: number | null;
  cgcnn_scratch_mae: number | null;
  cgcnn_scratch_mae_std?: number | null;
  best_known_mae: number | null;
  best_known_method?: string | null;
  note: string | null;
}

export interface TaskRow {
  id: string;
  formula: string;
  target: number;
  structure: unknown;
}

export const TASKS_DIR = join(SHARED_DIR, 'data', 'tasks');

export function taskIndex(dir = TASKS_DIR): TaskMeta[] {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as TaskMeta[];
}

export function readTaskRows(key: string, dir = TASKS_DIR): TaskRow[] {
  const text = gunzipSync(readFileSync(join(dir, `${key}.jsonl.gz`))).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TaskRow);
}

export function readSplit(key: string, seed: number, dir = TASKS_DIR): Required<DataSplit> {
  const all = JSON.parse(readFileSync(join(dir, 'splits', `seed${seed}.json`), 'utf8')) as Record<string, { train: number[]; val: number[]; test: number[] }>;
  const s = all[key];
  if (!s) throw new Error(`split seed${seed}.json has no task "${key}"`);
  return { train: s.train, val: s.val, test: s.test };
}

/** Crystal graphs of the task rows (every row needs a structure). */
export function taskInputs(rows: readonly TaskRow[]): ExpertInput[] {
  return rows.map((r, i) => {
    if (r.structure === null || r.structure === undefined) throw new Error(`row ${i} (${r.id}) has no structure`);
    return { graph: crystalGraph(parsePymatgenStructure(r.structure)), formula: r.formula };
  });
}
