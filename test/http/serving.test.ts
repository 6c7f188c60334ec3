import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auth, build } from '../helper.js';
import { fixture } from '../ml/fixture-graphs.js';

const FORMULAS = ['GaAs', 'Si', 'ZnO', 'GaN', 'InP', 'CdTe', 'AlN', 'MgO', 'NaCl', 'KCl', 'TiO2', 'Cu2O', 'SnO2', 'BN', 'SiC', 'ZnS', 'CdS', 'GaP', 'InAs', 'AlAs'];
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

test('serving: batching, budgets, rate limits and a free event loop', async (t) => {
  const app = await build(t, { batchMaxWaitMs: 2 });

  await t.test('concurrent requests are batched and each caller gets its own results, in order', async () => {
    const expert = 'comp_mp_gap';
    const alone: number[] = [];
    for (const f of FORMULAS) {
      const res = await app.inject({ method: 'POST', url: `/v1/experts/${expert}/predict`, payload: { inputs: [{ formula: f }] } });
      assert.equal(res.statusCode, 200, res.body);
      alone.push(res.json().predictions[0].value as number);
    }
    const before = app.inference.stats;
    // 20 callers at once, each with a different rotation of the formulas: the batch mixes them, the answers must not.
    const calls = FORMULAS.map((_, r) => FORMULAS.map((_, i) => FORMULAS[(i + r) % FORMULAS.length]));
    const answers = await Promise.all(calls.map((formulas) => app.inject({ method: 'POST', url: `/v1/experts/${expert}/predict`, payload: { inputs: formulas.map((formula) => ({ formula })) } })));
    answers.forEach((res, r) => {
      assert.equal(res.statusCode, 200, res.body);
      const preds = res.json().predictions as { formula: string; value: number }[];
      preds.forEach((p, i) => {
        const k = (i + r) % FORMULAS.length;
        assert.ok(close(p.value, alone[k]), `caller ${r} input ${i} (${FORMULAS[k]}): ${p.value} vs ${alone[k]}`);
      });
    });
    const after = app.inference.stats;
    assert.equal(after.requests - before.requests, calls.length);
    assert.ok(after.batches - before.batches < calls.length, `${after.batches - before.batches} batches for ${calls.length} concurrent requests`);
  });

  await t.test('a structure through a shipped model: concurrent callers get the values they get alone', async () => {
    const structures = fixture.slice(0, 6).map((f) => f.structure);
    const alone: number[] = [];
    for (const s of structures) alone.push((await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ structure: s }] } })).json().predictions[0].value as number);
    const together = await Promise.all(structures.map((s) => app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ structure: s }] } })));
    together.forEach((res, i) => assert.ok(close(res.json().predictions[0].value, alone[i])));
  });

  await t.test('a bad input in one caller fails that caller only, naming its own index', async () => {
    const [good, bad] = await Promise.all([
      app.inject({ method: 'POST', url: '/v1/experts/comp_mp_gap/predict', payload: { inputs: [{ formula: 'GaAs' }, { formula: 'Si' }] } }),
      app.inject({ method: 'POST', url: '/v1/experts/comp_mp_gap/predict', payload: { inputs: [{ formula: 'Si' }, { formula: 'Xx2' }] } }),
    ]);
    assert.equal(good.statusCode, 200);
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json().errors.map((e: { index: number }) => e.index), [1]);
    // An element the descriptors have no data for is named with its index on the model route too.
    const model = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }, { formula: 'Og2' }] } });
    assert.equal(model.statusCode, 422, model.body);
    assert.equal(model.json().errors[0].index, 1);
  });

  await t.test('the event loop stays free: /health/live answers while a long batch computes', async () => {
    const inputs = Array.from({ length: 400 }, (_, i) => ({ structure: fixture[i % fixture.length].structure }));
    const order: string[] = [];
    const batch = app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs } }).then((r) => {
      order.push('batch');
      return r;
    });
    // Ask for liveness while the batch is in an inference thread.
    await new Promise((r) => setTimeout(r, 50));
    const live = await app.inject('/health/live');
    order.push('live');
    assert.equal(live.statusCode, 200);
    assert.equal((await batch).statusCode, 200);
    assert.deepEqual(order, ['live', 'batch'], 'liveness was answered before the batch finished');
  });
});

test('a request over its compute budget is a 413 that says how to split it', async (t) => {
  const app = await build(t, { predictMaxSites: 10 });
  const inputs = fixture.slice(0, 4).map((f) => ({ structure: f.structure }));
  const sites = fixture.slice(0, 4).reduce((n, f) => n + f.structure.sites.length, 0);
  const res = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs } });
  assert.equal(res.statusCode, 413, res.body);
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.code, 'compute_budget_exceeded');
  assert.equal(body.sites, sites);
  assert.match(body.detail, /Split it into \d+ requests/);
  assert.match(body.detail, /batch-predict/);
  const small = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }] } });
  assert.equal(small.statusCode, 200);
});

test('rate limits: an anonymous burst gets 429 problem+json with Retry-After; a keyed client is not limited by it', async (t) => {
  const app = await build(t, { rateLimitAnonymous: 5, rateLimitKeyed: 0 });
  const statuses: number[] = [];
  let refused;
  for (let i = 0; i < 8; i++) {
    const res = await app.inject('/v1/experts');
    statuses.push(res.statusCode);
    if (res.statusCode === 429) refused = res;
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  assert.ok(refused);
  assert.match(refused.headers['content-type'] as string, /^application\/problem\+json/);
  assert.equal(refused.json().code, 'rate_limited');
  assert.ok(Number(refused.headers['retry-after']) > 0);
  assert.match(refused.json().requestId, /\S/);
  for (let i = 0; i < 8; i++) assert.equal((await app.inject({ url: '/v1/experts', headers: auth })).statusCode, 200);
  assert.equal((await app.inject('/health/live')).statusCode, 200, 'liveness is never rate limited');
});

test('a large request of formulas is split across threads: same answers, problems at the caller\'s indices', async (t) => {
  const app = await build(t, { batchMaxInputs: 16 });
  const many = Array.from({ length: 100 }, (_, i) => FORMULAS[i % FORMULAS.length] + (i >= FORMULAS.length ? String(1 + Math.floor(i / FORMULAS.length)) : ''));
  const whole = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: many.map((formula) => ({ formula })) } });
  assert.equal(whole.statusCode, 200, whole.body);
  const values = whole.json().predictions.map((p: { value: number }) => p.value);
  for (let at = 0; at < many.length; at += 10) {
    const part = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: many.slice(at, at + 10).map((formula) => ({ formula: `${formula} ` })) } });
    part.json().predictions.forEach((p: { value: number }, i: number) => assert.ok(close(p.value, values[at + i]), `${many[at + i]}`));
  }
  const bad = [...many];
  bad[70] = 'Og2';
  bad[90] = 'Qq';
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: bad.map((formula) => ({ formula })) } });
  assert.equal(res.statusCode, 422);
  assert.deepEqual(res.json().errors.map((e: { index: number }) => e.index), [70, 90]);
});
