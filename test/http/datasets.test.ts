import SwaggerParser from '@apidevtools/swagger-parser';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { insertDataset } from '../../src/db/dataset-queries.js';
import { withTransaction } from '../../src/db/pool.js';
import { datasetContentHash, prepareDataset } from '../../src/services/datasets/content.js';
import { auth, build } from '../helper.js';

interface TaskRow { id: string; formula: string; target: number; structure: Record<string, unknown> | null }

const TASKS = new URL('../../../shared/data/tasks/', import.meta.url);
function taskRows(key: string, n?: number): TaskRow[] {
  const text = gunzipSync(readFileSync(new URL(`${key}.jsonl.gz`, TASKS))).toString('utf8');
  return text.split('\n').filter((l) => l.trim() !== '').slice(0, n).map((l) => JSON.parse(l) as TaskRow);
}

async function form(fields: Record<string, string>, file?: { name: string; content: string | Buffer; type?: string }) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  if (file) fd.append('file', new Blob([file.content], { type: file.type ?? 'application/octet-stream' }), file.name);
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  return { payload: Buffer.from(await req.arrayBuffer()), headers: { ...auth, 'content-type': req.headers.get('content-type') as string } };
}

async function counts(app: FastifyInstance): Promise<{ datasets: number; rows: number }> {
  const { rows } = await app.pg.query<{ datasets: number; rows: number }>(
    'SELECT (SELECT count(*)::int FROM datasets) AS datasets, (SELECT count(*)::int FROM dataset_rows) AS rows',
  );
  return rows[0];
}

function stats(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return {
    mean, min: s[0], max: s[s.length - 1], median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2,
    std: Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length),
  };
}

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≈ ${b}`);

const POSCAR_GAAS = ['GaAs', '1.0', '0 2.825 2.825', '2.825 0 2.825', '2.825 2.825 0', 'Ga As', '1 1', 'Direct', '0 0 0', '0.25 0.25 0.25', ''].join('\r\n');

test('datasets over HTTP, on real Postgres', async (t) => {
  const app = await build(t);
  const gaps = taskRows('expt_bandgap', 50);
  const gaps2d = taskRows('jarvis_2d_gap_opt', 20);
  const jsonRows = [
    ...gaps.map((r) => ({ formula: r.formula, target: r.target, id: r.id })),
    ...gaps2d.map((r) => ({ structure: r.structure, target: r.target, id: r.id })),
  ];
  const source = [...gaps, ...gaps2d];
  let firstId = '';

  await t.test('JSON upload of 50 formula and 20 structure rows: 201, Location, statistics and kinds', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'gaps', property: 'band gap', unit: 'eV', rows: jsonRows } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    firstId = body.id;
    assert.equal(res.headers.location, `/v1/datasets/${body.id}`);
    assert.equal(body.rowCount, 70);
    assert.deepEqual(body.inputKinds, ['formula', 'structure']);
    assert.match(body.contentHash, /^[0-9a-f]{64}$/);
    const want = stats(source.map((r) => r.target));
    assert.equal(body.targetStats.count, 70);
    for (const k of ['mean', 'std', 'min', 'max', 'median'] as const) close(body.targetStats[k], want[k]);
  });

  await t.test('GET returns the rows in order with reduced formulas, ids, kind counts and a hash recomputable from them', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/datasets/${firstId}?rowsLimit=1000`, headers: auth });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.inputKindCounts, { formula: 50, structure: 20 });
    assert.equal(body.rows.total, 70);
    assert.equal(body.rows.items.length, 70);
    body.rows.items.forEach((r: { index: number; kind: string; formula: string; target: number; id: string; input: Record<string, unknown> }, i: number) => {
      assert.equal(r.index, i);
      assert.equal(r.kind, i < 50 ? 'formula' : 'structure');
      assert.equal(r.formula, source[i].formula, `row ${i}: pymatgen's reduced formula`);
      assert.equal(r.target, source[i].target);
      assert.equal(r.id, source[i].id);
    });
    assert.deepEqual(body.rows.items[55].input, { structure: gaps2d[5].structure });
    assert.equal(datasetContentHash('band gap', 'eV', body.rows.items), body.contentHash);

    const page = (await app.inject({ method: 'GET', url: `/v1/datasets/${firstId}?rowsLimit=5&rowsOffset=48`, headers: auth })).json();
    assert.deepEqual(page.rows.items.map((r: { index: number }) => r.index), [48, 49, 50, 51, 52]);
    assert.deepEqual([page.rows.limit, page.rows.offset, page.rows.total], [5, 48, 70]);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/datasets/${firstId}`, headers: auth })).json().rows.items.length, 70);
  });

  await t.test('identical content returns the stored dataset (200, same id) even under another name; nothing new is stored', async () => {
    const before = await counts(app);
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'other name', property: 'band gap', unit: 'eV', rows: jsonRows } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, firstId);
    assert.equal(res.json().name, 'gaps');
    assert.equal(res.headers.location, `/v1/datasets/${firstId}`);
    assert.deepEqual(await counts(app), before);
    const changed = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'gaps', property: 'band gap', unit: 'meV', rows: jsonRows } });
    assert.equal(changed.statusCode, 201);
    assert.notEqual(changed.json().id, firstId);
  });

  await t.test('bad rows: 422 invalid_rows lists every bad row and nothing is stored', async () => {
    const before = await counts(app);
    const rows = [...jsonRows.slice(0, 10), { formula: 'Xq2O3', target: 1 }, { formula: 'GaAs' }, ...jsonRows.slice(10, 20), { formula: 'GaAs', target: 'high' }, { cif: 'not a cif', target: 1 }, { formula: 'Si', poscar: POSCAR_GAAS, target: 2 }];
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'bad', property: 'band gap', unit: 'eV', rows } });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const body = res.json();
    assert.equal(body.code, 'invalid_rows');
    assert.equal(body.invalidRows, 5);
    assert.equal(body.totalRows, 25);
    assert.deepEqual(body.errors.map((e: { index: number }) => e.index), [10, 11, 22, 23, 24]);
    assert.equal(body.errors[1].code, 'target_missing');
    assert.equal(body.errors[2].code, 'target_not_number');
    assert.equal(body.errors[4].code, 'input_kind');
    assert.ok(body.errors.every((e: { message: string; code: string }) => e.message.length > 0 && e.code.length > 0));
    assert.deepEqual(await counts(app), before);
  });

  await t.test('schema problems in the JSON body are 400s; writes need an API key', async () => {
    const missing = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'x', unit: 'eV', rows: [] } });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().code, 'validation_failed');
    const empty = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'x', property: 'p', unit: 'eV', rows: [] } });
    assert.equal(empty.statusCode, 422);
    assert.equal(empty.json().code, 'dataset_empty');
    const noKey = await app.inject({ method: 'POST', url: '/v1/datasets', payload: { name: 'x', property: 'p', unit: 'eV', rows: [{ formula: 'Si', target: 1 }] } });
    assert.equal(noKey.statusCode, 401);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/datasets/${firstId}` })).statusCode, 401);
    const text = await app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': 'text/plain' }, payload: JSON.stringify({ name: 'x', property: 'p', unit: 'eV', rows: [{ formula: 'Si', target: 1 }] }) });
    assert.equal(text.statusCode, 415);
    assert.equal(text.json().code, 'unsupported_media_type');
  });

  await t.test('CSV upload (multipart): formula rows plus quoted multi-line POSCAR cells, CRLF, BOM, string targets', async () => {
    const lines = gaps.slice(0, 10).map((r) => `${r.id},${r.formula},,${r.target}`);
    const quoted = `"${POSCAR_GAAS.replace(/"/g, '""')}"`;
    const csv = `\uFEFFid,formula,poscar,target\r\n${lines.join('\r\n')}\r\ngaas-1,,${quoted},1.42\r\n`;
    const { payload, headers } = await form({ name: 'csv gaps', property: 'band gap', unit: 'eV' }, { name: 'gaps.csv', content: csv, type: 'text/csv' });
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers, payload });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.rowCount, 11);
    assert.deepEqual(body.inputKinds, ['formula', 'poscar']);
    const detail = (await app.inject({ method: 'GET', url: `/v1/datasets/${body.id}`, headers: auth })).json();
    assert.deepEqual(detail.rows.items.slice(0, 10).map((r: { target: number }) => r.target), gaps.slice(0, 10).map((r) => r.target));
    assert.deepEqual(detail.rows.items[10], { index: 10, kind: 'poscar', input: { poscar: POSCAR_GAAS.replace(/\r\n/g, '\n') }, formula: 'GaAs', target: 1.42, id: 'gaas-1' });
  });

  await t.test('VASP 4 POSCAR rows carry their block elements in "species" (JSON list, CSV cell); a bad species list is a row problem', async () => {
    const vasp4 = POSCAR_GAAS.replace(/\r\n/g, '\n').replace('Ga As\n', '');
    const csv = `poscar,species,target\n"${vasp4}",Ga As,1.42\n`;
    const { payload, headers } = await form({ name: 'vasp4', property: 'band gap', unit: 'eV' }, { name: 'v4.csv', content: csv, type: 'text/csv' });
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers, payload });
    assert.equal(res.statusCode, 201, res.body);
    const detail = (await app.inject({ method: 'GET', url: `/v1/datasets/${res.json().id}`, headers: auth })).json();
    assert.deepEqual(detail.rows.items[0], { index: 0, kind: 'poscar', input: { poscar: vasp4, species: ['Ga', 'As'] }, formula: 'GaAs', target: 1.42 });
    const bad = await app.inject({
      method: 'POST', url: '/v1/datasets', headers: auth,
      payload: { name: 'v4 bad', property: 'band gap', unit: 'eV', rows: [{ poscar: vasp4, species: 'GaAs', target: 1 }, { poscar: vasp4, target: 1 }, { formula: 'GaAs', species: ['Ga'], target: 1 }] },
    });
    assert.equal(bad.statusCode, 422, bad.body);
    assert.deepEqual(bad.json().errors.map((e: { index: number; code: string }) => [e.index, e.code]), [[0, 'species_invalid'], [1, 'poscar_missing_species'], [2, 'species_without_poscar']]);
  });

  await t.test('JSONL upload (multipart), plain and gzip-compressed; the same rows as JSON are the same dataset', async () => {
    const jsonl = gaps2d.map((r) => JSON.stringify({ id: r.id, structure: r.structure, target: r.target })).join('\n');
    const a = await form({ name: 'jsonl 2d', property: 'band gap', unit: 'eV' }, { name: 'rows.jsonl', content: jsonl });
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers: a.headers, payload: a.payload });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().rowCount, 20);
    assert.deepEqual(res.json().inputKinds, ['structure']);
    const b = await form({ name: 'again', property: 'band gap', unit: 'eV', format: 'jsonl' }, { name: 'blob', content: gzipSync(jsonl) });
    const again = await app.inject({ method: 'POST', url: '/v1/datasets', headers: b.headers, payload: b.payload });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().id, res.json().id);
    const asJson = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'j', property: 'band gap', unit: 'eV', rows: gaps2d.map((r) => ({ structure: r.structure, target: r.target })) } });
    assert.equal(asJson.statusCode, 200);
    assert.equal(asJson.json().id, res.json().id);
  });

  await t.test('bad CSV rows are listed with their lines; bad forms have their own codes; nothing is stored', async () => {
    const before = await counts(app);
    const csv = 'formula,target\nGaAs,1.42\nSi,NaN\nGe,\nQq,1\nZnO,inf\nC,abc\nAlN,6.2\n';
    const f = await form({ name: 'bad csv', property: 'band gap', unit: 'eV' }, { name: 'bad.csv', content: csv });
    const res = await app.inject({ method: 'POST', url: '/v1/datasets', headers: f.headers, payload: f.payload });
    assert.equal(res.statusCode, 422, res.body);
    const body = res.json();
    assert.equal(body.code, 'invalid_rows');
    assert.deepEqual(body.errors.map((e: { index: number; line: number; code: string }) => [e.index, e.line, e.code.startsWith('formula_') ? 'formula' : e.code]),
      [[1, 3, 'target_not_finite'], [2, 4, 'target_missing'], [3, 5, 'formula'], [4, 6, 'target_not_finite'], [5, 7, 'target_not_number']]);

    const cases: [Record<string, string>, { name: string; content: string | Buffer } | undefined, number, string][] = [
      [{ name: 'n', property: 'p', unit: 'eV' }, undefined, 400, 'multipart_no_file'],
      [{ name: 'n', unit: 'eV' }, { name: 'a.csv', content: 'formula,target\nSi,1\n' }, 400, 'validation_failed'],
      [{ name: 'n', property: 'p', unit: 'eV', colour: 'red' }, { name: 'a.csv', content: 'formula,target\nSi,1\n' }, 400, 'validation_failed'],
      [{ name: 'n', property: 'p', unit: 'eV', format: 'xlsx' }, { name: 'a.xlsx', content: 'PK' }, 415, 'upload_format_unsupported'],
      [{ name: 'n', property: 'p', unit: 'eV' }, { name: 'a.csv', content: 'id,value\nSi,1\n' }, 422, 'csv_missing_column'],
      [{ name: 'n', property: 'p', unit: 'eV' }, { name: 'a.csv', content: 'formula,target\n"Si,1\n' }, 422, 'csv_unterminated_quote'],
      [{ name: 'n', property: 'p', unit: 'eV' }, { name: 'a.csv', content: '' }, 422, 'dataset_empty'],
      [{ name: 'n', property: 'p', unit: 'eV' }, { name: 'bomb.csv.gz', content: gzipSync(Buffer.alloc(50 * 1024 * 1024 + 1, 'a')) }, 413, 'dataset_too_large'],
    ];
    for (const [fields, file, status, code] of cases) {
      const g = await form(fields, file);
      const r = await app.inject({ method: 'POST', url: '/v1/datasets', headers: g.headers, payload: g.payload });
      assert.equal(r.statusCode, status, `${code}: ${r.body}`);
      assert.equal(r.json().code, code);
    }
    const twoFiles = new FormData();
    for (const [k, v] of Object.entries({ name: 'n', property: 'p', unit: 'eV' })) twoFiles.append(k, v);
    twoFiles.append('file', new Blob(['formula,target\nSi,1\n']), 'a.csv');
    twoFiles.append('file2', new Blob(['formula,target\nGe,1\n']), 'b.csv');
    const req = new Request('http://localhost/', { method: 'POST', body: twoFiles });
    const r2 = await app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': req.headers.get('content-type') as string }, payload: Buffer.from(await req.arrayBuffer()) });
    assert.equal(r2.statusCode, 400, r2.body);
    assert.equal(r2.json().code, 'multipart_too_many_files');
    assert.deepEqual(await counts(app), before);
  });

  await t.test('limits: more than 100,000 rows is 413 dataset_too_many_rows; more than 50 MB is 413 dataset_too_large', async () => {
    const before = await counts(app);
    const rows = Array.from({ length: 100_001 }, (_, i) => ({ formula: 'Si', target: i }));
    const many = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'n', property: 'p', unit: 'eV', rows } });
    assert.equal(many.statusCode, 413, many.body);
    assert.equal(many.json().code, 'dataset_too_many_rows');
    const csv = `formula,target\n${'Si,1\n'.repeat(100_001)}`;
    const f = await form({ name: 'n', property: 'p', unit: 'eV' }, { name: 'many.csv', content: csv });
    const manyCsv = await app.inject({ method: 'POST', url: '/v1/datasets', headers: f.headers, payload: f.payload });
    assert.equal(manyCsv.statusCode, 413, manyCsv.body);
    assert.equal(manyCsv.json().code, 'dataset_too_many_rows');
    const big = await app.inject({
      method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"name":"n","property":"p","unit":"eV","rows":[{"formula":"${'H'.repeat(50 * 1024 * 1024)}","target":1}]}`,
    });
    assert.equal(big.statusCode, 413, big.body.slice(0, 300));
    assert.equal(big.json().code, 'dataset_too_large');
    assert.deepEqual(await counts(app), before);
  });

  await t.test('10,000 rows are inserted in one transaction, in batches, every row intact', async () => {
    const base = taskRows('expt_bandgap');
    const raw = Array.from({ length: 10_000 }, (_, i) => ({ value: { formula: base[i % base.length].formula, target: i / 7, id: `r${i}` } }));
    const prepared = prepareDataset({ name: 'big', property: 'synthetic', unit: 'eV' }, raw);
    const d = await withTransaction(app.pg, (c) => insertDataset(c, { ...prepared, owner: 'default', visibility: 'private' }));
    const stored = await app.pg.query<{ n: number; last: number }>('SELECT count(*)::int AS n, max(target) AS last FROM dataset_rows WHERE dataset_id = $1', [d.id]);
    assert.equal(stored.rows[0].n, 10_000);
    assert.equal(stored.rows[0].last, 9999 / 7);
  });

  await t.test('list: newest first, paginated with total and links', async () => {
    const all = (await app.inject({ method: 'GET', url: '/v1/datasets?limit=100', headers: auth })).json();
    const total = (await counts(app)).datasets;
    assert.equal(all.total, total);
    assert.equal(all.items.length, total);
    const created = all.items.map((d: { createdAt: string }) => Date.parse(d.createdAt));
    assert.deepEqual(created, [...created].sort((a, b) => b - a));
    assert.equal(all.items[all.items.length - 1].id, firstId);
    const p1 = (await app.inject({ method: 'GET', url: '/v1/datasets?limit=2', headers: auth })).json();
    const p2 = (await app.inject({ method: 'GET', url: p1.links.next, headers: auth })).json();
    assert.deepEqual([...p1.items, ...p2.items].map((d: { id: string }) => d.id), all.items.slice(0, 4).map((d: { id: string }) => d.id));
    assert.equal(p1.links.prev, undefined);
    assert.equal(p2.links.prev, '/v1/datasets?limit=2&offset=0');
    const past = (await app.inject({ method: 'GET', url: `/v1/datasets?limit=2&offset=${total}`, headers: auth })).json();
    assert.deepEqual(past.items, []);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/datasets?limit=0', headers: auth })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/datasets?limit=101', headers: auth })).statusCode, 400);
  });

  await t.test('unknown and malformed ids', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/datasets/00000000-0000-4000-8000-000000000000', headers: auth });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'dataset_not_found');
    assert.equal((await app.inject({ method: 'GET', url: '/v1/datasets/42', headers: auth })).statusCode, 400);
    const del = await app.inject({ method: 'DELETE', url: '/v1/datasets/00000000-0000-4000-8000-000000000000', headers: auth });
    assert.equal(del.statusCode, 404);
    assert.equal(del.json().code, 'dataset_not_found');
  });

  await t.test('DELETE is refused while a queued job or a model uses the dataset, then removes it with its rows and splits', async () => {
    const split = await app.inject({ method: 'POST', url: `/v1/datasets/${firstId}/splits`, headers: auth, payload: { method: 'random', seed: 3 } });
    assert.equal(split.statusCode, 201, split.body);
    const job = await app.pg.query<{ id: string }>(`INSERT INTO jobs (owner, type, payload) VALUES ('default', 'finetune', $1) RETURNING id`, [{ dataset: firstId }]);
    const refused = await app.inject({ method: 'DELETE', url: `/v1/datasets/${firstId}`, headers: auth });
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json().code, 'dataset_in_use');
    assert.deepEqual(refused.json().jobs, [job.rows[0].id]);

    await app.pg.query(`UPDATE jobs SET state = 'active' WHERE id = $1`, [job.rows[0].id]);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/datasets/${firstId}`, headers: auth })).statusCode, 409);
    await app.pg.query(`UPDATE jobs SET state = 'completed' WHERE id = $1`, [job.rows[0].id]);

    const model = await app.pg.query<{ id: string }>(
      `INSERT INTO models (owner, name, property, unit, dataset_id, split_id, input_kinds, config, experts, metrics, weights, checksum)
       VALUES ('default', 'm1', 'band gap', 'eV', NULL, $1, '{formula}', '{}', '[]', '{}', '\\x00', $2) RETURNING id`,
      [split.json().id, 'a'.repeat(64)],
    );
    const byModel = await app.inject({ method: 'DELETE', url: `/v1/datasets/${firstId}`, headers: auth });
    assert.equal(byModel.statusCode, 409);
    assert.deepEqual(byModel.json().models, [model.rows[0].id]);
    await app.pg.query('DELETE FROM models WHERE id = $1', [model.rows[0].id]);

    const ok = await app.inject({ method: 'DELETE', url: `/v1/datasets/${firstId}`, headers: auth });
    assert.equal(ok.statusCode, 204, ok.body);
    assert.equal(ok.body, '');
    assert.equal((await app.inject({ method: 'GET', url: `/v1/datasets/${firstId}`, headers: auth })).statusCode, 404);
    const left = await app.pg.query<{ rows: number; splits: number }>(
      'SELECT (SELECT count(*)::int FROM dataset_rows WHERE dataset_id = $1) AS rows, (SELECT count(*)::int FROM splits WHERE dataset_id = $1) AS splits',
      [firstId],
    );
    assert.deepEqual(left.rows[0], { rows: 0, splits: 0 });
  });

  await t.test('every dataset route is in a valid OpenAPI document with tag, summary, responses and examples', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json', headers: auth })).json();
    const mine = Object.fromEntries(Object.entries(doc.paths as Record<string, unknown>).filter(([p]) => p.startsWith('/v1/datasets')));
    const ops = Object.entries(mine).flatMap(([p, o]) => Object.entries(o as Record<string, { tags?: string[]; summary?: string; responses?: Record<string, unknown>; requestBody?: { content: Record<string, { examples?: unknown; example?: unknown }> } }>).map(([m, op]) => ({ key: `${m.toUpperCase()} ${p}`, op })));
    assert.deepEqual(ops.map((o) => o.key).sort(), [
      'DELETE /v1/datasets/{id}', 'GET /v1/datasets', 'GET /v1/datasets/{id}', 'GET /v1/datasets/{id}/splits', 'GET /v1/datasets/{id}/splits/{splitId}',
      'PATCH /v1/datasets/{id}', 'POST /v1/datasets', 'POST /v1/datasets/{id}/splits',
    ]);
    for (const { key, op } of ops) {
      assert.deepEqual(op.tags, ['datasets'], key);
      assert.ok(op.summary, key);
      assert.ok(op.responses && Object.keys(op.responses).length > 1, key);
      for (const media of Object.values(op.requestBody?.content ?? {})) assert.ok(media.examples ?? media.example, `${key} body example`);
    }
    assert.deepEqual(Object.keys(doc.paths['/v1/datasets'].post.requestBody.content).sort(), ['application/json', 'multipart/form-data']);
    await SwaggerParser.validate(structuredClone({ ...doc, paths: mine }));
  });
});
