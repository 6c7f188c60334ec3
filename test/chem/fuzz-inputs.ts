/**
 * Seeds and mutations for the chemistry fuzz suite (fuzz.test.ts): real inputs (the parser test files, a sample of
 * task structures written out as pymatgen dicts, P1 CIFs and POSCARs, formulas of the reference table) and
 * fast-check arbitraries that damage them the way a hostile client would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Mat3 } from '../../src/chem/structure/index.js';
import { SHARED_DIR } from '../../src/paths.js';
import { toCif, toPoscar, type TaskStructure } from './structure-helpers.js';

export type { TaskStructure };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const STRUCTURES = new URL('../data/chem/structures/', import.meta.url);
const files = readdirSync(STRUCTURES).filter((f) => f !== 'expected.json');
const read = (f: string): string => readFileSync(new URL(f, STRUCTURES), 'utf8');

/** Task rows from three tasks of different kinds (bulk MP, 2D with vacuum, the closest pair of sites: 0.949 Å). */
function taskSample(): TaskStructure[] {
  const out: TaskStructure[] = [];
  for (const task of ['mp_phonons', 'jarvis_2d_eform', 'piezoelectric_tensor']) {
    const lines = gunzipSync(readFileSync(join(SHARED_DIR, 'data', 'tasks', `${task}.jsonl.gz`))).toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i += 25) if (lines[i].trim()) out.push((JSON.parse(lines[i]) as { structure: TaskStructure }).structure);
  }
  return out;
}

export const TASK_STRUCTURES = taskSample();

export const CIF_SEEDS = [...files.filter((f) => f.endsWith('.cif')).map(read), ...TASK_STRUCTURES.map(toCif)];
export const POSCAR_SEEDS = [...files.filter((f) => f.endsWith('.poscar') && !f.includes('vasp4')).map(read), ...TASK_STRUCTURES.map(toPoscar)];
export const VASP4_SEEDS = files.filter((f) => f.includes('vasp4')).map((f) => ({ poscar: read(f), species: read(f.replace('.vasp4', '')).split('\n')[5].trim().split(/\s+/) }));
export const DICT_SEEDS: Json[] = [...files.filter((f) => f.endsWith('.json')).map((f) => JSON.parse(read(f)) as Json), ...(TASK_STRUCTURES as unknown as Json[])];
export const FORMULA_SEEDS = (JSON.parse(readFileSync(new URL('../data/chem/formula_reference.json', import.meta.url), 'utf8')) as { rows: [string][] }).rows
  .filter((_, i) => i % 20 === 0)
  .map((r) => r[0]);

/** Number spellings a hostile client tries in text: overflow, underflow, zero, negative, not-a-number, junk. */
export const HOSTILE_NUMBER_TEXT = fc.constantFrom(
  '0', '-0', '-1', '1e308', '-1e308', '1e400', '1e-300', '1e-308', '5e-324', '4.9e-324', '1e-7', '1e-6', '1e6', '1e15', '999999999999',
  'NaN', 'nan', 'Infinity', 'inf', '1.0001', '1.5', '2', '180', '360', '0.0000001', '1e', '.', '-', '1.0D0', '1/2', '', '\0', '0.5', '1e-3',
);

/** The same as JSON values, plus wrong types. */
export const HOSTILE_JSON_VALUE: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(0, -0, -1, 1e308, -1e308, 5e-324, 1e-300, 1e-7, 1e6, 1.0001, 2, 180, 360, NaN, Infinity, -Infinity),
  fc.constantFrom<unknown>('1.0', '', '\0', 'Fe\0', 'Fe', 'X', null, true, [], {}, [0, 0], [NaN, 0, 0], [[1, 0, 0]], { element: 'Fe', occu: 1 }),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.integer({ min: 1, max: 60 }).map((depth) => nest(depth)),
);

/** `depth` levels of arrays and objects around a number. */
export function nest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { v };
  return v;
}

/** Every path (keys and indices) into a JSON tree, the root included. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

export type DictEdit = { pick: number; op: 'replace'; value: unknown } | { pick: number; op: 'delete' | 'duplicate' | 'stringify' | 'negate' };

export const DICT_EDIT: fc.Arbitrary<DictEdit> = fc.oneof(
  fc.record({ pick: fc.nat(), op: fc.constant('replace' as const), value: HOSTILE_JSON_VALUE }),
  fc.record({ pick: fc.nat(), op: fc.constantFrom('delete' as const, 'duplicate' as const, 'stringify' as const, 'negate' as const) }),
);

/** Applies edits to a deep copy of a JSON tree: replace a value, delete a key, duplicate an array entry, number → string, negate. */
export function editDict(seed: Json, edits: DictEdit[]): unknown {
  const root = { root: JSON.parse(JSON.stringify(seed)) as unknown };
  for (const e of edits) {
    const all = paths(root.root, ['root']);
    const path = all[e.pick % all.length];
    let parent: Record<string | number, unknown> = root as Record<string, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = path[path.length - 1];
    const old = parent[key];
    // a copy: fast-check hands out the same constant objects to every run, and later edits must not change them
    if (e.op === 'replace') parent[key] = structuredClone(e.value);
    else if (e.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (e.op === 'duplicate' && Array.isArray(parent)) parent.splice(key as number, 0, JSON.parse(JSON.stringify(old ?? null)));
    else if (e.op === 'stringify' && typeof old === 'number') parent[key] = String(old);
    else if (e.op === 'negate' && typeof old === 'number') parent[key] = -old;
  }
  return root.root;
}

export type TextEdit = { at: number; op: 'number'; text: string } | { at: number; op: 'insert' | 'delete-line' | 'duplicate-line'; text: string };

/** Edits of a text file: swap a numeric token for a hostile spelling, insert text, delete or repeat a line. */
export const TEXT_EDIT: fc.Arbitrary<TextEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ at: fc.nat(), op: fc.constant('number' as const), text: HOSTILE_NUMBER_TEXT }) },
  fc.record({ at: fc.nat(), op: fc.constant('insert' as const), text: fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('\0', '\n', ' 0', '\n1 0 0 0\n', "'", ';')) }),
  fc.record({ at: fc.nat(), op: fc.constantFrom('delete-line' as const, 'duplicate-line' as const), text: fc.constant('') }),
);

export function editText(text: string, edits: TextEdit[]): string {
  let t = text;
  for (const e of edits) {
    if (e.op === 'number') {
      const spans = [...t.matchAll(/-?\d*\.?\d+(?:[eE][+-]?\d+)?/g)];
      if (spans.length === 0) continue;
      const m = spans[e.at % spans.length];
      t = t.slice(0, m.index) + e.text + t.slice(m.index + m[0].length);
    } else if (e.op === 'insert') {
      const at = e.at % (t.length + 1);
      t = t.slice(0, at) + e.text + t.slice(at);
    } else {
      const lines = t.split('\n');
      const i = e.at % lines.length;
      if (e.op === 'delete-line') lines.splice(i, 1);
      else lines.splice(i, 0, lines[i]);
      t = lines.join('\n');
    }
  }
  return t;
}

/** A supercell of a task structure with up to `maxSites` sites (valid, large), optionally with one site moved onto another. */
export function supercell(s: TaskStructure, maxSites: number, collide: boolean): TaskStructure {
  const k = Math.max(1, Math.floor(Math.cbrt(maxSites / s.sites.length)));
  const sites: TaskStructure['sites'] = [];
  for (let x = 0; x < k; x++) {
    for (let y = 0; y < k; y++) {
      for (let z = 0; z < k; z++) for (const site of s.sites) sites.push({ ...site, abc: [(site.abc[0] + x) / k, (site.abc[1] + y) / k, (site.abc[2] + z) / k] });
    }
  }
  if (collide && sites.length > 1) sites[sites.length - 1] = { ...sites[sites.length - 1], abc: [sites[0].abc[0] + 1e-4, sites[0].abc[1], sites[0].abc[2]] };
  return { lattice: { matrix: s.lattice.matrix.map((r) => r.map((v) => v * k)) as Mat3 }, sites };
}
