import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import { auth, build, spawnWorker, until } from '../helper.js';


test('a batch-prediction job screens an unlabelled dataset through a worker process; the output downloads as JSONL and CSV', async (t) => {
  const app = await build(t);
  const worker = spawnWorker(t, app.config);
  const out = (): string => worker.output();


  // 300 formulas with no target column (inputs to screen), and one with oganesson, which the descriptors cannot read.
  const formulas = [...new Set(readTaskRows('expt_bandgap').map((r) => r.formula))].slice(0, 300);
  const csv = `id,formula\n${formulas.map((f, i) => `c${i},${f}`).join('\n')}\nbad,Og2\n`;
  const fd = new FormData();
  fd.append('name', 'candidates');
  fd.append('property', 'band gap');
  fd.append('unit', 'eV');
  fd.append('file', new Blob([csv]), 'candidates.csv');
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  const upload = await app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': req.headers.get('content-type')! }, payload: Buffer.from(await req.arrayBuffer()) });
  assert.equal(upload.statusCode, 201, upload.body);
  const dataset = upload.json();
  assert.equal(dataset.labelled, false);
  assert.equal(dataset.targetStats, null);

  await t.test('an unlabelled dataset cannot be trained on', async () => {
    const split = (await app.inject({ method: 'POST', url: `/v1/datasets/${dataset.id}/splits`, headers: auth, payload: {} })).json();
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id } });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().code, 'dataset_unlabelled');
  });

  const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'batch-predict', model: 'expt_bandgap', dataset: dataset.id } });
  assert.equal(created.statusCode, 202, created.body);
  const id = created.json().id;
  assert.equal((await app.inject({ url: `/v1/jobs/${id}/output`, headers: auth })).statusCode, 404, 'no output before the job completes');

  const job = await until('the batch prediction to finish', async () => {
    const j = (await app.inject({ url: `/v1/jobs/${id}`, headers: auth })).json();
    return ['completed', 'failed'].includes(j.state) ? j : undefined;
  });
  assert.equal(job.state, 'completed', `${JSON.stringify(job)}\n${out()}`);
  assert.equal(job.result.rows, formulas.length + 1);
  assert.equal(job.result.failedRows, 1);
  assert.equal(job.progress.done, formulas.length + 1);

  await t.test('JSONL: one line per input in dataset order, values equal to the predict route', async () => {
    const res = await app.inject({ url: `/v1/jobs/${id}/output`, headers: auth });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/x-ndjson/);
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, formulas.length + 1);
    assert.deepEqual(lines.map((l) => l.index), lines.map((_, i) => i));
    assert.equal(lines[0].id, 'c0');
    assert.equal(lines.at(-1).error.code, 'descriptor_element_out_of_range');
    const direct = (await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: formulas.slice(0, 20).map((formula) => ({ formula })) } })).json().predictions;
    direct.forEach((p: { value: number; uncertainty: number }, i: number) => {
      assert.ok(Math.abs(lines[i].prediction.value - p.value) <= 1e-5 * Math.max(1, Math.abs(p.value)), `${formulas[i]}: ${lines[i].prediction.value} vs ${p.value}`);
      assert.equal(lines[i].prediction.unit, 'eV');
    });
  });

  await t.test('CSV: a header and one row per input; the failed row carries its error', async () => {
    const res = await app.inject({ url: `/v1/jobs/${id}/output?format=csv`, headers: auth });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/csv/);
    const rows = res.body.trim().split('\n');
    assert.equal(rows.length, formulas.length + 2);
    assert.match(rows[0], /^index,id,formula,value,unit,uncertainty/);
    assert.match(rows.at(-1)!, /descriptor_element_out_of_range/);
  });

  await t.test('the output is private to the job\'s owner', async () => {
    const other = await app.inject({ url: `/v1/jobs/${id}/output`, headers: { authorization: 'Bearer bob-key-9876543210' } });
    assert.equal(other.statusCode, 404);
  });
});
