import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import { auth, build, spawnWorker, until } from '../helper.js';

test('recipe "auto" chooses on validation rows only: changing every test target changes nothing about the model', async (t) => {
  const app = await build(t);
  spawnWorker(t, app.config);
  const rows = readTaskRows('expt_bandgap').slice(100, 160).map((r) => ({ formula: r.formula, target: r.target }));
  const split = { method: 'explicit', train: Array.from({ length: 40 }, (_, i) => i), val: Array.from({ length: 10 }, (_, i) => 40 + i), test: Array.from({ length: 10 }, (_, i) => 50 + i) };
  // The same rows, except that every test target is replaced by a wild value.
  const altered = rows.map((r, i) => (i >= 50 ? { ...r, target: 10 + 3 * i } : r));

  const train = async (name: string, data: typeof rows) => {
    const d = (await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name, property: 'band gap', unit: 'eV', rows: data } })).json();
    const s = await app.inject({ method: 'POST', url: `/v1/datasets/${d.id}/splits`, headers: auth, payload: split });
    assert.equal(s.statusCode, 201, s.body);
    const job = await app.inject({
      method: 'POST', url: '/v1/jobs', headers: auth,
      payload: { type: 'fine-tune', dataset: d.id, split: s.json().id, name, experts: ['comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap', 'comp_mp_e_form'], epochs: 4, patience: 4, members: 2 },
    });
    assert.equal(job.statusCode, 202, job.body);
    const done = await until(`${name} to finish`, async () => {
      const j = (await app.inject({ url: `/v1/jobs/${job.json().id}`, headers: auth })).json();
      return ['completed', 'failed'].includes(j.state) ? j : undefined;
    });
    assert.equal(done.state, 'completed', JSON.stringify(done));
    return (await app.inject({ url: `/v1/models/${done.result.model}`, headers: auth })).json();
  };

  const a = await train('recipe-true-test', rows);
  const b = await train('recipe-altered-test', altered);
  assert.equal(a.metrics.recipe, b.metrics.recipe);
  assert.deepEqual(a.metrics.candidates.map((c: { valMae: number }) => c.valMae), b.metrics.candidates.map((c: { valMae: number }) => c.valMae));
  assert.deepEqual(a.metrics.calibration, b.metrics.calibration);
  // The stored bytes of both models are the same: nothing a test target could touch went into them.
  assert.equal(a.checksum, b.checksum);
  // The report, which reads the test targets once, does differ.
  assert.notEqual(a.metrics.testMae, b.metrics.testMae);
});
