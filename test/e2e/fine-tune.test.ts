import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { XMLValidator } from 'fast-xml-parser';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import { trainingDefaults } from '../../src/services/fine-tune/admit.js';
import { auth, build, spawnWorker, TEST_API_KEY, until } from '../helper.js';

/** The app under test lives in this process, so the CLI must run without blocking its event loop. */
function runCli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/matmoe.js', ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}


test('end to end: upload a real dataset, split it, fine-tune through the queue and a worker process, predict, cancel', async (t) => {
  const app = await build(t);
  const worker = spawnWorker(t, app.config);
  const out = (): string => worker.output();


  const get = async (url: string) => (await app.inject({ url, headers: auth })).json();
  // 48 real 2D crystals with their optB88vdW band gaps.
  const rows = readTaskRows('jarvis_2d_gap_opt').slice(0, 48).map((r) => ({ structure: r.structure, target: r.target }));
  let dataset: { id: string };
  let split: { id: string };
  let job: { id: string; result: { model: string } };
  let model: { id: string; name: string };
  let preds: { value: number }[];

  await t.test('a dataset of structures is uploaded and split', async () => {
    const upload = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: '2d-gaps-sample', property: '2D band gap (optB88vdW)', unit: 'eV', rows } });
    assert.equal(upload.statusCode, 201, upload.body);
    dataset = upload.json();
    const splitRes = await app.inject({ method: 'POST', url: `/v1/datasets/${dataset.id}/splits`, headers: auth, payload: { method: 'random', seed: 1 } });
    assert.equal(splitRes.statusCode, 201, splitRes.body);
    split = splitRes.json();
  });

  await t.test('a request naming an unknown expert is a 404, a bad loss a 400, and nothing is queued', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'x', experts: ['no_such_expert'] } });
    assert.equal(bad.statusCode, 404);
    assert.equal(bad.json().code, 'expert_not_found');
    const badLoss = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'x', loss: 'huber' } });
    assert.equal(badLoss.statusCode, 400);
    assert.match(badLoss.headers['content-type'] as string, /^application\/problem\+json/);
    const warmup = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'x', epochs: 3, gateWarmup: 5 } });
    assert.equal(warmup.statusCode, 422);
    assert.equal(warmup.json().code, 'gate_warmup_too_long');
    const conflict = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'x', recipe: 'auto', loss: 'l1' } });
    assert.equal(conflict.statusCode, 422);
    assert.equal(conflict.json().code, 'recipe_options_conflict');
    assert.match(conflict.json().detail, /"recipe": "custom"/);
  });

  await t.test('a mixed-kind fine-tune runs through the queue and a worker process to a model', async () => {
    const created = await app.inject({
      method: 'POST', url: '/v1/jobs', headers: auth,
      // A custom recipe: both kinds in one mixture (the composition expert reads the structure's sites), gate ranked by
      // probes, every expert mixed in the first 2 epochs, L1 loss; 2 members.
      payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'gaps-e2e', experts: ['mp_bandgap', 'jarvis_bandgap', 'comp_mp_gap'], k: 2, epochs: 4, patience: 4, gateWarmup: 2, loss: 'l1', gateInit: 'probe', members: 2 },
    });
    assert.equal(created.statusCode, 202, created.body);
    assert.equal(created.headers.location, `/v1/jobs/${created.json().id}`);
    const dup = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'gaps-e2e' } });
    assert.equal(dup.statusCode, 409, 'a second job for the same model name is refused when it is submitted');
    assert.equal(dup.json().code, 'model_name_taken');
    job = await until('the fine-tune job to finish', async () => {
      const j = await get(`/v1/jobs/${created.json().id}`);
      return ['completed', 'failed'].includes(j.state) ? j : undefined;
    });
    const j = job as unknown as { state: string; backend: string; progress: { epoch: number; gate: unknown[] } };
    assert.equal(j.state, 'completed', `${JSON.stringify(job)}\n${out()}`);
    assert.equal(j.backend, 'wasm');
    assert.equal(j.progress.epoch, 4);
    assert.equal(j.progress.gate.length, 2);
  });

  await t.test('the model card records the data, experts, config and metrics; its plots are well-formed SVG', async () => {
    const modelRes = await app.inject({ url: `/v1/models/${job.result.model}`, headers: auth });
    assert.equal(modelRes.statusCode, 200);
    const m = modelRes.json();
    model = m;
    assert.equal(m.name, 'gaps-e2e');
    assert.equal(m.datasetId, dataset.id);
    assert.equal(m.splitId, split.id);
    // Gate weights averaged over the 2 members: each mixes 2 of the 3 experts.
    assert.ok(m.experts.length >= 2 && m.experts.length <= 3, JSON.stringify(m.experts));
    assert.ok(m.experts.some((e: { kind: string }) => e.kind === 'cgcnn'), JSON.stringify(m.experts));
    assert.equal(m.metrics.members, 2);
    assert.equal(m.metrics.recipe, 'cgcnn+composition/probe/l1/none');
    assert.equal(m.metrics.calibration.structure.method, 'ensemble-spread-split-conformal/1');
    assert.equal(m.config.loss, 'l1');
    assert.equal(m.config.gateWarmup, 2);
    assert.equal(m.config.gateInit, 'probe');
    assert.ok(Math.abs(m.experts.reduce((a: number, e: { weight: number }) => a + e.weight, 0) - 1) < 1e-6);
    assert.ok(Number.isFinite(m.metrics.valMae) && Number.isFinite(m.metrics.testMae));
    assert.match(m.checksum, /^[0-9a-f]{64}$/);
    assert.deepEqual(m.inputKinds, ['structure', 'cif', 'poscar']);
    for (const plot of ['parity.svg', 'gates.svg']) {
      const svg = await app.inject({ url: `/v1/models/gaps-e2e/${plot}`, headers: auth });
      assert.equal(svg.statusCode, 200);
      assert.match(svg.headers['content-type'] as string, /^image\/svg\+xml/);
      assert.equal(XMLValidator.validate(svg.body), true, `${plot} is well-formed XML`);
      assert.match(svg.body, /^<svg /);
    }
  });

  await t.test('the model predicts structures; a formula is a 422 saying what to send', async () => {
    const predict = await app.inject({ method: 'POST', url: '/v1/predict', headers: auth, payload: { model: 'gaps-e2e', inputs: rows.slice(0, 3).map((r) => ({ structure: r.structure })) } });
    assert.equal(predict.statusCode, 200, predict.body);
    preds = predict.json().predictions;
    assert.equal(preds.length, 3);
    for (const p of preds as unknown as { value: number; unit: string; uncertaintyMethod: string; interval: [number, number]; basis: string; experts: unknown[] }[]) {
      assert.ok(Number.isFinite(p.value) && p.value >= 0, `a band gap is never negative: ${p.value}`);
      assert.equal(p.unit, 'eV');
      assert.equal(p.uncertaintyMethod, 'split-conformal-ensemble');
      assert.equal(p.basis, 'structure');
      assert.ok(p.interval[0] <= p.value && p.value <= p.interval[1] && p.interval[0] >= 0, JSON.stringify(p));
    }
    const same = await app.inject({ method: 'POST', url: `/v1/models/${model.id}/predict`, headers: auth, payload: { inputs: [{ structure: rows[0].structure }] } });
    assert.equal(same.json().predictions[0].value, preds[0].value);
    const formula = await app.inject({ method: 'POST', url: '/v1/predict', headers: auth, payload: { model: 'gaps-e2e', inputs: [{ formula: 'MoS2' }] } });
    assert.equal(formula.statusCode, 422);
    assert.equal(formula.json().errors[0].code, 'structure_required');
    assert.match(formula.json().errors[0].message, /send "structure"/);
    const list = await app.inject({ url: '/v1/models?limit=1', headers: auth });
    assert.equal(list.json().total >= 1, true);
    assert.equal(list.json().items.length, 1);
  });

  await t.test('a running job is cancelled: the worker stops before its last epoch, says so, and leaves no model', async () => {
    const second = await app.inject({
      method: 'POST', url: '/v1/jobs', headers: auth,
      payload: { type: 'fine-tune', dataset: dataset.id, split: split.id, name: 'gaps-cancelled', experts: 'all', k: 2, epochs: 2000, patience: 2000 },
    });
    assert.equal(second.statusCode, 202, second.body);
    const id = second.json().id;
    await until('the second job to train', async () => {
      const j = await get(`/v1/jobs/${id}`);
      return j.state === 'active' && j.progress?.stage === 'training' ? j : undefined;
    });
    const cancel = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: auth });
    assert.equal(cancel.statusCode, 200);
    assert.equal(cancel.json().state, 'cancelled');
    // The route marks the row; the worker acknowledges once it has actually stopped training.
    const stopped = await until('the worker to acknowledge the cancellation', async () => {
      const j = await get(`/v1/jobs/${id}`);
      return j.result?.cancelled === true ? j : undefined;
    });
    assert.equal(stopped.state, 'cancelled');
    assert.ok(stopped.progress.epoch < 2000, `stopped at epoch ${stopped.progress.epoch} of 2000`);
    assert.equal(stopped.result.stoppedAtEpoch, stopped.progress.epoch);
    assert.equal((await app.inject({ url: '/v1/models/gaps-cancelled', headers: auth })).statusCode, 404);
  });

  await t.test('left out, the recipe is "auto": candidates chosen by validation MAE, 3 members, calibrated; the name comes from the dataset', async () => {
    const formulas = readTaskRows('expt_bandgap').slice(0, 60).map((r) => ({ formula: r.formula, target: r.target }));
    const fUpload = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'gaps formulas', property: 'band gap', unit: 'eV', rows: formulas } });
    assert.equal(fUpload.statusCode, 201, fUpload.body);
    // No method: a random 70/15/15 split with seed 0.
    const fSplit = await app.inject({ method: 'POST', url: `/v1/datasets/${fUpload.json().id}/splits`, headers: auth, payload: {} });
    assert.equal(fSplit.statusCode, 201, fSplit.body);
    assert.equal(fSplit.json().method, 'random');
    assert.equal(fSplit.json().seed, 0);
    assert.deepEqual(fSplit.json().sizes, { train: 42, val: 9, test: 9 });
    const fJob = await app.inject({
      method: 'POST', url: '/v1/jobs', headers: auth,
      payload: { type: 'fine-tune', dataset: fUpload.json().id, split: fSplit.json().id, experts: ['comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap'], epochs: 3, patience: 3 },
    });
    assert.equal(fJob.statusCode, 202, fJob.body);
    assert.equal(fJob.json().payload.name, `gaps-formulas-${fJob.json().id.slice(0, 8)}`);
    assert.equal(fJob.json().payload.recipe, 'auto');
    assert.equal(fJob.json().payload.members, 3);
    const fDone = await until('the formula fine-tune to finish', async () => {
      const j = await get(`/v1/jobs/${fJob.json().id}`);
      return ['completed', 'failed'].includes(j.state) ? j : undefined;
    });
    assert.equal(fDone.state, 'completed', `${JSON.stringify(fDone)}\n${out()}`);
    const fModel = await get(`/v1/models/${fDone.result.model}`);
    assert.equal(fModel.name, fJob.json().payload.name);
    const candidates = fModel.metrics.candidates as { name: string; valMae: number; paper: boolean }[];
    assert.ok(candidates.length >= 2 && candidates.some((c) => c.paper), JSON.stringify(candidates));
    const best = candidates.reduce((a, c) => (c.valMae < a.valMae ? c : a));
    assert.equal(fModel.metrics.recipe, best.name);
    assert.equal(fModel.metrics.members, 3);
    assert.ok(fModel.metrics.coverage90 >= 0 && fModel.metrics.coverage90 <= 1);
    assert.deepEqual(fModel.inputKinds, ['formula', 'structure', 'cif', 'poscar']);
    const p = (await app.inject({ method: 'POST', url: `/v1/models/${fModel.id}/predict`, headers: auth, payload: { inputs: [{ formula: 'GaAs' }, { formula: 'Cu' }] } })).json().predictions;
    for (const x of p) assert.ok(x.value >= 0 && x.interval[0] >= 0 && x.interval[0] <= x.value && x.value <= x.interval[1], JSON.stringify(x));
    assert.deepEqual(trainingDefaults(['cgcnn', 'composition']), { loss: 'mse', gateInit: 'equal' });
  });

  await t.test('the CLI predicts from files through the same API; a path that does not exist is an error', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const cli = await runCli(['predict', '--url', url, '--key', TEST_API_KEY, '--model', 'gaps-e2e', 'test/data/chem/structures/2d_HfSiTe.sym.cif', 'test/data/chem/structures/2d_HfSiTe.poscar', 'test/data/chem/structures/2d_HfSiTe.json']);
    assert.equal(cli.status, 0, cli.stderr);
    const lines = cli.stdout.trim().split('\n');
    assert.match(lines[0], /^gaps-e2e: 2D band gap \(optB88vdW\) \(eV\)$/);
    assert.equal(lines.length, 6, cli.stdout);
    const values = lines.slice(3).map((l) => l.split(/\s{2,}/));
    for (const v of values) assert.equal(v[1], 'HfSiTe');
    // The CIF's symmetry-expanded sites and the POSCAR's agree to ~1e-6 Å: the printed 4 digits may differ in the last.
    assert.ok(Math.abs(Number(values[0][2]) - Number(values[1][2])) <= 2e-4, `the same crystal as CIF and POSCAR gives the same value: ${values[0][2]} vs ${values[1][2]}`);
    const cliBad = await runCli(['predict', '--url', url, '--key', TEST_API_KEY, '--model', 'gaps-e2e', 'MoS2']);
    assert.equal(cliBad.status, 1);
    assert.match(cliBad.stderr, /input 0: .*needs a structure/);
    const cliMissing = await runCli(['predict', '--url', url, '--key', TEST_API_KEY, '--model', 'gaps-e2e', 'no/such/file.cif']);
    assert.equal(cliMissing.status, 1);
    assert.match(cliMissing.stderr, /no such file/);
    const cliTypo = await runCli(['predict', '--url', url, '--modle', 'gaps-e2e', 'GaAs']);
    assert.equal(cliTypo.status, 1);
    assert.match(cliTypo.stderr, /modle/);
  });

  await t.test('the dataset is in use by the model and cannot be deleted', async () => {
    const del = await app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset.id}`, headers: auth });
    assert.equal(del.statusCode, 409);
  });
});
