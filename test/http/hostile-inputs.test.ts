/**
 * Regression tests of the hostile pass over HTTP (issue 14, part 1): each input once caused a 500 or stored nonsense.
 * Every string that reaches SQL is refused before it gets there, every integer query parameter is bounded, and a
 * target no property can take is refused per row. Protocol-level abuse is in protocol-errors.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_OFFSET } from '../../src/http/paging.js';
import { auth, build, tinyDataset } from '../helper.js';
import { assertProblem } from '../support/problems.js';

async function form(fields: Record<string, string>, file: { name: string; content: string }) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('file', new Blob([file.content]), file.name);
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  return { payload: Buffer.from(await req.arrayBuffer()), headers: { ...auth, 'content-type': req.headers.get('content-type') as string } };
}

const LABELS = { name: 'gaps', property: 'band gap', unit: 'eV' };

test('hostile inputs over HTTP: 4xx problems, never a 500', async (t) => {
  const app = await build(t);
  const { dataset, split } = await tinyDataset(app);
  const datasetCount = async () => (await app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM datasets')).rows[0].n;
  const stored = await datasetCount();

  await t.test('a NUL byte in a model name, id or query is a 400 (it was a Postgres 22021 error)', async () => {
    const predict = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'a\u0000', inputs: [{ formula: 'GaAs' }] } });
    assert.equal(assertProblem(predict, 400, 'validation_failed').errors?.[0].path, 'body/model');
    for (const url of ['/v1/models/a%00', '/v1/models/a%00/parity.svg', '/v1/models/a%00/gates.svg', '/v1/models?property=a%00', '/v1/experts/a%00', `/v1/datasets/${dataset}%00`,
      `/v1/datasets/${dataset}/splits/${split}%00`, '/v1/datasets/a%00/splits']) {
      assertProblem(await app.inject({ method: 'GET', url }), 400, 'validation_failed');
    }
    assertProblem(await app.inject({ method: 'POST', url: '/v1/models/a%00/predict', payload: { inputs: [{ formula: 'GaAs' }] } }), 400, 'validation_failed');
    assertProblem(await app.inject({ method: 'POST', url: '/v1/experts/a%00/predict', payload: { inputs: [{ formula: 'GaAs' }] } }), 400, 'validation_failed');
    assertProblem(await app.inject({ method: 'PATCH', url: '/v1/models/a%00', headers: auth, payload: { visibility: 'public' } }), 400, 'validation_failed');
    for (const url of ['/v1/jobs/a%00', '/v1/jobs/a%00/events']) assertProblem(await app.inject({ method: 'GET', url, headers: auth }), 400, 'validation_failed');
    assertProblem(await app.inject({ method: 'DELETE', url: '/v1/jobs/a%00', headers: auth }), 400, 'validation_failed');
    assertProblem(await app.inject({ method: 'DELETE', url: '/v1/datasets/a%00', headers: auth }), 400, 'validation_failed');
  });

  await t.test('a NUL byte in a job request or its Idempotency-Key is a 400', async () => {
    const job = { type: 'fine-tune', dataset, split };
    assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth, 'idempotency-key': 'a\u0000b' }, payload: job }), 400, 'validation_failed');
    for (const extra of [{ name: 'a\u0000' }, { experts: ['mp_eform\u0000'] }, { dataset: `${dataset}\u0000` }]) {
      assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { ...job, ...extra } }), 400, 'validation_failed');
    }
  });

  await t.test('a NUL byte in a dataset\'s name, property or unit is a 400 naming the field, as JSON and as form fields', async () => {
    for (const field of ['name', 'property', 'unit'] as const) {
      const labels = { ...LABELS, [field]: `x\u0000y` };
      const json = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { ...labels, rows: [{ formula: 'GaAs', target: 1 }] } });
      assert.equal(assertProblem(json, 400, 'validation_failed').errors?.[0].path, `body/${field}`);
      const upload = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(labels, { name: 'a.csv', content: 'formula,target\nGaAs,1\n' })) });
      assert.equal(assertProblem(upload, 400, 'validation_failed').errors?.[0].path, `body/${field}`);
    }
    assert.equal(await datasetCount(), stored);
  });

  await t.test('a NUL byte in a row id is that row\'s error (JSON rows and CSV alike)', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { ...LABELS, rows: [{ formula: 'GaAs', target: 1 }, { formula: 'Si', target: 1, id: 'a\u0000' }] } });
    assert.deepEqual(assertProblem(json, 422, 'invalid_rows').errors?.map((e) => [e.index, e.code]), [[1, 'row_id_invalid']]);
    const csv = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(LABELS, { name: 'a.csv', content: 'formula,target,id\nGaAs,1,ok\nSi,1,a\u0000b\n' })) });
    assert.deepEqual(assertProblem(csv, 422, 'invalid_rows').errors?.map((e) => [e.index, e.line, e.code]), [[1, 3, 'row_id_invalid']]);
    assert.equal(await datasetCount(), stored);
  });

  await t.test('half a surrogate pair in a structure (a key or a value) is the row\'s error: jsonb refused it with a 500', async () => {
    const structure = { lattice: { matrix: [[0, 2.82, 2.82], [2.82, 0, 2.82], [2.82, 2.82, 0]] }, sites: [{ species: [{ element: 'Na', occu: 1 }], abc: [0, 0, 0] }, { species: [{ element: 'Cl', occu: 1 }], abc: [0.5, 0.5, 0.5] }] };
    const rows = [{ structure, target: 1 }, { structure: { ...structure, charge: { '\udfff': null } }, target: 1 }, { structure: { ...structure, label: 'Na\ud800' }, target: 1 }];
    const json = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { ...LABELS, rows } });
    assert.deepEqual(assertProblem(json, 422, 'invalid_rows').errors?.map((e) => [e.index, e.code]), [[1, 'input_invalid_character'], [2, 'input_invalid_character']]);
    const jsonl = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(LABELS, { name: 'a.jsonl', content: rows.map((r) => JSON.stringify(r)).join('\n') })) });
    assert.deepEqual(assertProblem(jsonl, 422, 'invalid_rows').errors?.map((e) => [e.index, e.code]), [[1, 'input_invalid_character'], [2, 'input_invalid_character']]);
    assert.equal(await datasetCount(), stored);
  });

  await t.test('an invalid key on the queue dashboard is a 401 problem (bull-board\'s error handler made it a 500)', async () => {
    for (const authorization of ['Bearer not-a-configured-key', 'Digest x', `Basic ${Buffer.from('admin:wrong').toString('base64')}`]) {
      for (const url of ['/admin/queues', '/admin/queues/api/queues']) assertProblem(await app.inject({ url, headers: { authorization } }), 401, 'unauthorized');
    }
  });

  await t.test('the queue dashboard\'s own errors (an unknown queue or job) are problems too, keeping the field its page reads', async () => {
    const authorization = auth.authorization;
    for (const url of ['/admin/queues/api/queues/training/m%40V%7C%3B0wO', '/admin/queues/api/queues/no-such-queue/1/logs']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url, headers: { authorization } });
        assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        if (method === 'GET') {
          const p = assertProblem(res, 404, 'not_found') as unknown as { error?: string };
          assert.equal(typeof p.error, 'string');
        }
      }
    }
  });

  await t.test('offsets and limits far out of range are a 400 (1e308 failed converting to bigint)', async () => {
    const lists = ['/v1/models', '/v1/datasets'];
    for (const list of lists) {
      for (const query of ['offset=1e308', 'limit=1e999', 'offset=1e999', `offset=${MAX_OFFSET + 1}`, 'offset=-1', 'limit=0', 'offset=1.5', 'offset=abc']) {
        assertProblem(await app.inject({ method: 'GET', url: `${list}?${query}`, headers: auth }), 400, 'validation_failed');
      }
      const last = await app.inject({ method: 'GET', url: `${list}?offset=${MAX_OFFSET}`, headers: auth });
      assert.equal(last.statusCode, 200, last.body);
      assert.deepEqual(last.json().items, []);
    }
    for (const query of ['rowsOffset=1e308', `rowsOffset=${MAX_OFFSET + 1}`, 'rowsLimit=1e999', 'rowsLimit=-1']) {
      assertProblem(await app.inject({ method: 'GET', url: `/v1/datasets/${dataset}?${query}`, headers: auth }), 400, 'validation_failed');
    }
    const far = await app.inject({ method: 'GET', url: `/v1/datasets/${dataset}?rowsOffset=${MAX_OFFSET}`, headers: auth });
    assert.equal(far.statusCode, 200, far.body);
    assert.deepEqual(far.json().rows.items, []);
  });

  await t.test('a target beyond ±1e15 is refused per row, named by index (it trained into null MAEs)', async () => {
    const rows = [{ formula: 'GaAs', target: 1e308 }, { formula: 'Si', target: 1.1 }, { formula: 'ZnO', target: -1e16 }, { formula: 'GaN', target: 1e15 }];
    const json = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { ...LABELS, rows } });
    const body = assertProblem(json, 422, 'invalid_rows');
    assert.deepEqual(body.errors?.map((e) => [e.index, e.code]), [[0, 'target_out_of_range'], [2, 'target_out_of_range']]);
    assert.match(body.detail, /row 0/);

    const csv = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(LABELS, { name: 'a.csv', content: 'formula,target\nGaAs,1e308\nSi,1.1\nZnO,-2E+15\nGaN,1e400\n' })) });
    assert.deepEqual(assertProblem(csv, 422, 'invalid_rows').errors?.map((e) => [e.index, e.line, e.code]),
      [[0, 2, 'target_out_of_range'], [2, 4, 'target_out_of_range'], [3, 5, 'target_not_finite']]);
    const jsonl = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(LABELS, { name: 'a.jsonl', content: '{"formula":"GaAs","target":1e308}\n{"formula":"Si","target":1}\n' })) });
    assert.deepEqual(assertProblem(jsonl, 422, 'invalid_rows').errors?.map((e) => [e.index, e.line, e.code]), [[0, 1, 'target_out_of_range']]);
    assert.equal(await datasetCount(), stored);

    // The bound itself is a target like any other.
    const edge = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { ...LABELS, rows: [{ formula: 'GaAs', target: 1e15 }, { formula: 'Si', target: -1e15 }] } });
    assert.equal(edge.statusCode, 201, edge.body);
    assert.deepEqual([edge.json().targetStats.min, edge.json().targetStats.max], [-1e15, 1e15]);
  });

  await t.test('framework errors before routing are problems: a bad percent-encoding (400), a path parameter over 100 characters (414)', async () => {
    assertProblem(await app.inject({ method: 'GET', url: '/v1/models/%zz' }), 400, 'bad_url');
    assertProblem(await app.inject({ method: 'GET', url: '/v1/datasets/%E0%A4%A' }), 400, 'bad_url');
    assertProblem(await app.inject({ method: 'GET', url: `/v1/models/${'a'.repeat(101)}` }), 414, 'max_param_length');
    // A name of exactly 100 characters is a name, not an error.
    assertProblem(await app.inject({ method: 'GET', url: `/v1/models/${'a'.repeat(100)}` }), 404, 'model_not_found');
  });

  await t.test('bodies: invalid JSON, deep nesting (JSON bodies and dataset files), a wrong media type, a compressed body, over the limit', async () => {
    const post = (payload: string, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json', ...headers }, payload });
    assertProblem(await post('{"model": '), 400, 'ctp_invalid_json_body');
    assertProblem(await post('{"model":"expt_bandgap","inputs":[{"formula":"GaAs"}]}\u0000'), 400, 'ctp_invalid_json_body');
    // Nesting beyond 64 levels is refused before parsing: 5,000 levels overflowed the stack where a body was walked or copied.
    const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    assertProblem(await post(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 400, 'json_too_deep');
    assertProblem(await post(`{"model":"expt_bandgap","inputs":[{"structure":${deep(5_000)}}]}`), 400, 'json_too_deep');
    assertProblem(await post(`{"model":"expt_bandgap","inputs":[{"structure":${deep(60)}}]}`), 422, 'invalid_input');
    assertProblem(await post(`{"model":"expt_bandgap","inputs":[{"formula":"${'['.repeat(1000)}"}]}`), 422, 'invalid_input');
    const rows = (depth: number) => `{"name":"a","property":"p","unit":"","rows":[{"structure":${deep(depth)},"target":1}]}`;
    assertProblem(await app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': 'application/json' }, payload: rows(50_000) }), 400, 'json_too_deep');
    // A dataset row read from a file is bounded too (it overflowed the recursive NUL check and hashing: a 500).
    for (const content of [`{"structure":${deep(50_000)},"target":1}\n`, `{"formula":${deep(40)},"target":1}\n`]) {
      const res = await app.inject({ method: 'POST', url: '/v1/datasets', ...(await form(LABELS, { name: 'a.jsonl', content })) });
      assert.deepEqual(assertProblem(res, 422, 'invalid_rows').errors?.map((e) => [e.index, e.code]), [[0, 'input_too_deep']]);
    }
    assertProblem(await post('{}', { 'content-encoding': 'gzip' }), 415, 'unsupported_content_encoding');
    assertProblem(await post('<a/>', { 'content-type': 'application/xml' }), 415, 'ctp_invalid_media_type');
    // POST /v1/jobs takes the default limit of 1 MiB.
    const big = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ type: 'x'.repeat(2 * 1024 * 1024) }) });
    assertProblem(big, 413, 'ctp_body_too_large');
  });
});
