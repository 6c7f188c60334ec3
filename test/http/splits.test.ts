import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { auth, build } from '../helper.js';

const TASKS = new URL('../../../shared/data/tasks/', import.meta.url);
const expt = gunzipSync(readFileSync(new URL('expt_bandgap.jsonl.gz', TASKS))).toString('utf8')
  .split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { id: string; formula: string; target: number });
const index = JSON.parse(readFileSync(new URL('index.json', TASKS), 'utf8')) as { key: string; rows: number; split_sizes: { train: number; val: number; test: number } }[];
const paperSeed0 = JSON.parse(readFileSync(new URL('splits/seed0.json', TASKS), 'utf8')) as Record<string, { train: number[]; val: number[]; test: number[] }>;

interface Split { id: string; method: string; seed: number | null; fractions: number[] | null; sizes: { train: number; val: number; test: number }; unassigned: number; train: number[]; val: number[]; test: number[] }

test('splits over HTTP, on the paper\'s expt_bandgap dataset', async (t) => {
  const app = await build(t);
  const n = expt.length;
  const t0 = performance.now();
  const up = await app.inject({
    method: 'POST', url: '/v1/datasets', headers: auth,
    payload: { name: 'expt_bandgap', property: 'band gap', unit: 'eV', rows: expt.map((r) => ({ formula: r.formula, target: r.target, id: r.id })) },
  });
  t.diagnostic(`upload of ${n} formula rows: ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(up.statusCode, 201, up.body.slice(0, 2000));
  const ds = up.json().id as string;
  const url = `/v1/datasets/${ds}/splits`;
  const post = (payload: unknown, headers: Record<string, string> = auth) => app.inject({ method: 'POST', url, headers, payload: payload as object });
  let seed0: Split;

  await t.test('random 70/15/15 by default: the paper\'s sizes (int truncation), disjoint, in range, deterministic', async () => {
    const res = await post({ method: 'random' });
    assert.equal(res.statusCode, 201, res.body);
    seed0 = res.json();
    assert.equal(res.headers.location, `${url}/${seed0.id}`);
    const want = index.find((e) => e.key === 'expt_bandgap')!.split_sizes;
    assert.deepEqual(seed0.sizes, want);
    assert.deepEqual([seed0.train.length, seed0.val.length, seed0.test.length], [want.train, want.val, want.test]);
    assert.equal(seed0.unassigned, n - want.train - want.val - want.test);
    assert.deepEqual([seed0.method, seed0.seed, seed0.fractions], ['random', 0, [0.7, 0.15, 0.15]]);
    const all = [...seed0.train, ...seed0.val, ...seed0.test];
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.every((i) => Number.isInteger(i) && i >= 0 && i < n));

    const again = await post({ method: 'random', seed: 0, fractions: [0.7, 0.15, 0.15] });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, seed0.id);
    assert.deepEqual(again.json().train, seed0.train);
    const other = await post({ method: 'random', seed: 1 });
    assert.equal(other.statusCode, 201);
    assert.notDeepEqual(other.json().train, seed0.train);
    assert.deepEqual(other.json().sizes, want);
  });

  await t.test('random with custom fractions; bad fractions have their own codes', async () => {
    const res = await post({ method: 'random', seed: 9, fractions: [0.5, 0.25, 0.25] });
    assert.equal(res.statusCode, 201);
    assert.deepEqual(res.json().sizes, { train: Math.trunc(0.5 * n), val: Math.trunc(0.25 * n), test: Math.trunc(0.25 * n) });
    const cases: [unknown, number, string][] = [
      [{ method: 'random', fractions: [0.8, 0.15, 0.15] }, 422, 'split_fractions_exceed_one'],
      [{ method: 'random', fractions: [0.7, 0, 0.3] }, 422, 'split_fraction_not_positive'],
      [{ method: 'random', fractions: [0.7, -0.15, 0.15] }, 422, 'split_fraction_not_positive'],
      [{ method: 'random', fractions: [0.7, 0.3] }, 400, 'validation_failed'],
      [{ method: 'random', seed: -1 }, 400, 'validation_failed'],
      [{ method: 'shuffle' }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(body);
      assert.equal(r.statusCode, status, `${JSON.stringify(body)}: ${r.body}`);
      assert.equal(r.json().code, code);
    }
  });

  await t.test('explicit: the paper\'s own seed-0 lists are accepted as given', async () => {
    const paper = paperSeed0.expt_bandgap;
    const res = await post({ method: 'explicit', ...paper });
    assert.equal(res.statusCode, 201, res.body);
    const s: Split = res.json();
    assert.deepEqual([s.train, s.val, s.test], [paper.train, paper.val, paper.test]);
    assert.deepEqual([s.method, s.seed, s.fractions], ['explicit', null, null]);
    const again = await post({ method: 'explicit', ...paper });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, s.id);
  });

  await t.test('explicit lists equal to an existing random split are that split', async () => {
    const res = await post({ method: 'explicit', train: seed0.train, val: seed0.val, test: seed0.test });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().id, seed0.id);
  });

  await t.test('explicit validation: overlap, out of range, duplicates, non-integers, empty train', async () => {
    const cases: [unknown, string][] = [
      [{ method: 'explicit', train: [0, 1, 2], val: [2, 3], test: [4] }, 'split_overlap'],
      [{ method: 'explicit', train: [0, 1], val: [], test: [n] }, 'split_index_out_of_range'],
      [{ method: 'explicit', train: [-1, 0] }, 'split_index_out_of_range'],
      [{ method: 'explicit', train: [0, 1, 1] }, 'split_index_duplicate'],
      [{ method: 'explicit', train: [0, 1.5] }, 'split_index_not_integer'],
      [{ method: 'explicit', train: [], val: [0], test: [1] }, 'split_train_empty'],
    ];
    const before = (await app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM splits')).rows[0].n;
    for (const [body, code] of cases) {
      const r = await post(body);
      assert.equal(r.statusCode, 422, `${code}: ${r.body}`);
      assert.equal(r.json().code, code);
    }
    assert.equal((await app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM splits')).rows[0].n, before);
  });

  await t.test('list and get; 404s; writes need a key', async () => {
    const list = await app.inject({ method: 'GET', url, headers: auth });
    assert.equal(list.statusCode, 200);
    const items = list.json().items as Split[];
    assert.equal(items.length, 4);
    assert.equal(items[0].id, seed0.id);
    assert.ok(items.every((s) => !('train' in s)));
    const one = await app.inject({ method: 'GET', url: `${url}/${seed0.id}`, headers: auth });
    assert.equal(one.statusCode, 200);
    assert.deepEqual(one.json().test, seed0.test);

    const missingSplit = await app.inject({ method: 'GET', url: `${url}/00000000-0000-4000-8000-000000000000`, headers: auth });
    assert.equal(missingSplit.statusCode, 404);
    assert.equal(missingSplit.json().code, 'split_not_found');
    const missingDs = await app.inject({ method: 'GET', url: '/v1/datasets/00000000-0000-4000-8000-000000000000/splits', headers: auth });
    assert.equal(missingDs.statusCode, 404);
    assert.equal(missingDs.json().code, 'dataset_not_found');
    const postMissing = await app.inject({ method: 'POST', url: '/v1/datasets/00000000-0000-4000-8000-000000000000/splits', headers: auth, payload: { method: 'random' } });
    assert.equal(postMissing.statusCode, 404);
    assert.equal((await post({ method: 'random', seed: 77 }, {})).statusCode, 401);
  });

  await t.test('a split is tied to its dataset: its id under another dataset is 404', async () => {
    const small = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 's', property: 'p', unit: '', rows: [{ formula: 'Si', target: 1 }] } });
    assert.equal(small.statusCode, 201);
    const r = await app.inject({ method: 'GET', url: `/v1/datasets/${small.json().id}/splits/${seed0.id}`, headers: auth });
    assert.equal(r.statusCode, 404);
    const tooSmall = await app.inject({ method: 'POST', url: `/v1/datasets/${small.json().id}/splits`, headers: auth, payload: { method: 'random' } });
    assert.equal(tooSmall.statusCode, 422);
    assert.equal(tooSmall.json().code, 'split_train_empty');
  });
});
