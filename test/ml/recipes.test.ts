import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { serializeCheckpoint, loadCheckpoint } from '../../src/ml/mixture/checkpoint.js';
import { resolveConfig } from '../../src/ml/mixture/config.js';
import { predictMixture } from '../../src/ml/mixture/model.js';
import { errorOnScale, memberOutput, physicalValues } from '../../src/ml/mixture/output.js';
import { trainMixture } from '../../src/ml/mixture/trainer.js';
import { firstRound, recipe, secondRound } from '../../src/ml/recipes/candidates.js';
import { childProcessRunner } from '../../src/ml/recipes/child-runner.js';
import { predictCalibrated } from '../../src/ml/recipes/evaluate.js';
import { inProcessRunner, runTrainJob } from '../../src/ml/recipes/runner.js';
import { trainSplitEnsemble, type SplitData } from '../../src/ml/recipes/split-ensemble.js';
import { targetProfile } from '../../src/ml/recipes/target-profile.js';
import { readTaskRows } from '../../scripts/lib/tasks.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const composition = (await loadShippedExperts('composition')).filter((e) => ['comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap', 'comp_mp_e_form'].includes(e.key));
const pools = { cgcnn: [], composition };

/** 100 experimental band gaps (≥ 0, with zeros) from formulas: 60 train, 20 validation, 20 test rows. */
const rows = readTaskRows('expt_bandgap').filter((_, i) => i % 20 === 0).slice(0, 100);
const inputs = rows.map((r) => ({ formula: r.formula }));
const gaps = rows.map((r) => r.target);
const idx = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const split = { train: idx(0, 60), val: idx(60, 80), test: idx(80, 100) };
const protocol = { epochs: 6, patience: 100, k: 2 };
const extra = { batchSize: 32 };

test('candidate rules: log transforms only for positive skewed targets, ln(1+y) with zeros, MSE only for heavy tails', () => {
  const skewedPositive = targetProfile([0.1, 0.2, 0.3, 0.2, 0.25, 9, 0.15, 0.3]);
  const withZeros = targetProfile([0, 0, 0.2, 0.3, 0.1, 8, 0.2, 0]);
  const negative = targetProfile([-1, 0.5, 0.2, 7, 0.1]);
  const best = recipe('cgcnn', 'probe', 'l1', 'none', 'none');
  assert.deepEqual(secondRound(best, skewedPositive, 'none').recipes.map((r) => r.targetTransform), ['log']);
  assert.deepEqual(secondRound(best, withZeros, 'none').recipes.map((r) => r.targetTransform), ['log1p']);
  assert.deepEqual(secondRound(best, negative, 'none').recipes, []);
  // A target the data already store as ln is not offered ln again.
  assert.deepEqual(secondRound(recipe('cgcnn', 'probe', 'l1', 'log', 'log'), skewedPositive, 'log').recipes, []);
  const heavy = targetProfile([...Array.from({ length: 200 }, (_, i) => -1 + (i % 7) * 0.01), 400]);
  assert.ok(heavy.excessKurtosis > 10);
  assert.deepEqual(secondRound(best, heavy, 'none').recipes.map((r) => r.name), ['cgcnn/probe/mse/none']);
  const first = firstRound('structure', 'log', 3);
  assert.deepEqual(first.recipes.map((r) => [r.name, r.paper]), [['cgcnn/equal/mse/log', true], ['cgcnn/probe/l1/log', false], ['cgcnn+composition/probe-kinds/l1/log', false]]);
  assert.deepEqual(firstRound('structure', 'none', 0).skipped.map((s) => s.name), ['cgcnn+composition/probe-kinds/l1/none']);
  assert.deepEqual(firstRound('composition', 'none', 3).recipes.map((r) => r.name), ['composition/equal/mse/none', 'composition/probe/l1/none']);
});

test('a member trained on ln(y) answers y: its raw outputs are ln values, its physical outputs their exp', async () => {
  const pos = split.train.concat(split.val).filter((i) => gaps[i] > 0);
  const data = { inputs, targets: gaps, split: { train: pos.slice(0, 30), val: pos.slice(30) } };
  const r = await trainMixture(data, { experts: composition.map((e) => e.key), k: 2, epochs: 4, batchSize: 16, targetTransform: 'log' }, { experts: composition });
  assert.equal(r.model.config.targetTransform, 'log');
  const valInputs = data.split.val.map((i) => inputs[i]);
  const raw = predictMixture(r.model, valInputs);
  const phys = physicalValues(memberOutput(r.model), raw);
  raw.forEach((z, i) => assert.ok(Math.abs(phys[i] - Math.exp(z)) <= 1e-9 * Math.exp(z), `exp(${z}) vs ${phys[i]}`));
  // The normaliser lives in ln space, the reported validation MAE in eV.
  const lnMean = data.split.train.concat(data.split.val).reduce((a, i) => a + Math.log(gaps[i]), 0) / (data.split.train.length + data.split.val.length);
  assert.ok(Math.abs(r.model.normalizer.mean - lnMean) < 1e-9);
  const mae = data.split.val.reduce((a, row, i) => a + Math.abs(phys[i] - gaps[row]), 0) / data.split.val.length;
  assert.ok(Math.abs(mae - r.valMae) < 1e-5 * mae, `physical MAE ${mae} vs trainer ${r.valMae}`);
  // ln of a non-positive target cannot be trained.
  await assert.rejects(trainMixture({ inputs, targets: gaps, split: { train: idx(0, 20), val: idx(20, 30) } }, { experts: ['comp_mp_gap'], mode: 'pairwise', epochs: 1, targetTransform: 'log' }, { experts: composition }), /targets > 0/);
});

test('stopOn: the kept epoch is the best on the named scale (ln for a target the paper stores as ln), physical by default', async () => {
  const pos = split.train.concat(split.val).filter((i) => gaps[i] > 0);
  const data = { inputs, targets: gaps, split: { train: pos.slice(0, 30), val: pos.slice(30) } };
  const valInputs = data.split.val.map((i) => inputs[i]);
  const lnMae = (phys: ArrayLike<number>) => data.split.val.reduce((a, row, i) => a + Math.abs(Math.log(phys[i]) - Math.log(gaps[row])), 0) / data.split.val.length;
  for (const stopOn of ['log', 'none'] as const) {
    const seen: { valMae: number; bestValMae: number }[] = [];
    const r = await trainMixture(data, { experts: composition.map((e) => e.key), k: 2, epochs: 6, batchSize: 16, targetTransform: 'log', stopOn }, { experts: composition, onEpoch: (p) => void seen.push(p) });
    assert.equal(r.model.config.stopOn, stopOn);
    const phys = physicalValues(memberOutput(r.model), predictMixture(r.model, valInputs));
    const kept = stopOn === 'log' ? lnMae(phys) : r.valMae;
    const best = seen[seen.length - 1].bestValMae;
    assert.ok(Math.abs(best - kept) < 1e-4 * kept, `${stopOn}: best ${best} vs kept model ${kept}`);
    // On ln, the kept epoch's ln MAE is the least seen; its physical MAE need not be.
    if (stopOn === 'log') assert.ok(Math.abs(best - lnMae(phys)) < 1e-4 * best && best !== r.valMae);
  }
  assert.throws(() => resolveConfig({ experts: ['comp_mp_gap'], k: 1, stopOn: 'sqrt' as never }, ['comp_mp_gap']), /stopOn must be one of/);
  // An output outside the scale's domain is a large, finite error, never NaN.
  assert.ok(errorOnScale('log', 0, 1) > 700 && Number.isFinite(errorOnScale('log', 0, 1)));
  assert.ok(errorOnScale('log1p', -2, 0) > 30 && Number.isFinite(errorOnScale('log1p', -2, 0)));
  assert.equal(errorOnScale('log1p', 1, 0), Math.log(2));
  assert.equal(errorOnScale('none', -2, 3), 5);
});

test('checkpoints without the output fields read as before: no transform, no bound, one group, basis from the experts', async () => {
  const r = await trainMixture({ inputs, targets: gaps, split: { train: idx(0, 20), val: idx(20, 30) } }, { experts: ['comp_mp_gap'], mode: 'pairwise', epochs: 1 }, { experts: composition });
  const legacy = { ...r.model, config: { ...r.model.config } as Record<string, unknown> };
  for (const f of ['targetTransform', 'targetMin', 'basis', 'ensembleGroup']) delete legacy.config[f];
  const back = loadCheckpoint(serializeCheckpoint(legacy as unknown as typeof r.model));
  assert.deepEqual(memberOutput(back), { transform: 'none', min: null, group: 0, basis: 'composition' });
  assert.deepEqual(memberOutput(r.model), { transform: 'none', min: null, group: 0, basis: 'composition' });
});

async function ensemble(targets: number[], members = 2) {
  const data: SplitData = { inputs, targets, split: { train: split.train, val: split.val } };
  return trainSplitEnsemble(data, { basis: 'composition', experts: pools, members, protocol, extra, seed: 3, group: 3 });
}

test('recipe selection reads validation rows only: changing every test target changes nothing', async () => {
  const a = await ensemble(gaps);
  const scrambled = gaps.map((y, i) => (split.test.includes(i) ? 1000 * (i % 3) + 17 : y));
  const b = await ensemble(scrambled);
  assert.equal(a.chosen.name, b.chosen.name);
  assert.deepEqual(a.candidates.map((c) => [c.recipe.name, c.valMae]), b.candidates.map((c) => [c.recipe.name, c.valMae]));
  assert.deepEqual(a.members.map((m) => serializeCheckpoint(m)), b.members.map((m) => serializeCheckpoint(m)));
  assert.deepEqual(a.calibration, b.calibration);
  // The comparison can see a change: one validation target moved does change the scores.
  const moved = gaps.map((y, i) => (i === split.val[0] ? y + 5 : y));
  const c = await ensemble(moved);
  assert.notDeepEqual(c.candidates.map((x) => x.valMae), a.candidates.map((x) => x.valMae));
  // Every candidate is reported with its validation MAE; the chosen one has the lowest.
  assert.ok(a.candidates.length >= 2);
  assert.equal(Math.min(...a.candidates.map((x) => x.valMae)), a.candidates.find((x) => x.recipe.name === a.chosen.name)!.valMae);
  assert.equal(a.members.length, 2);
  assert.ok(a.members.every((m) => m.config.ensembleGroup === 3 && m.config.basis === 'composition' && m.config.targetMin === 0));
});

test('non-negative properties: values and interval bounds are never below 0, for any formula', async () => {
  // A recipe without a log transform: only the clamp keeps outputs ≥ 0.
  const data: SplitData = { inputs, targets: gaps, split: { train: split.train, val: split.val } };
  const e = await trainSplitEnsemble(data, { basis: 'composition', experts: pools, members: 3, protocol, extra, recipe: recipe('composition', 'probe', 'l1', 'none', 'none') });
  assert.deepEqual(e.calibration.bound, { min: 0, method: 'clamp' });
  const odd = ['Lr', 'H', 'He', 'Fr2', 'U3Pu', 'Cs', 'Li', 'Na', 'Hg', 'Au', 'Pb', 'Cu', 'Fe', 'Ti3Al', 'NbSn3', 'Xe', 'Rn', 'Ne', 'CsAu', 'Li3N'];
  const random = Array.from({ length: 40 }, (_, i) => `${['Li', 'Fe', 'Cu', 'Zn', 'Ni', 'Co', 'Mn', 'Ag'][i % 8]}${1 + (i % 3)}${['Al', 'Sn', 'Sb', 'Bi', 'Ga'][i % 5]}${1 + (i % 4)}`);
  const values = predictCalibrated(e.members, e.calibration, [...odd, ...random].map((formula) => ({ formula })), 0.9);
  for (const v of values) {
    assert.ok(v.value >= 0 && v.interval[0] >= 0 && v.interval[1] >= v.interval[0], JSON.stringify(v));
    assert.ok(v.interval[0] <= v.value && v.value <= v.interval[1], `the interval holds the value: ${JSON.stringify(v)}`);
  }
  // Intervals are per material: uncertainty and width vary across inputs.
  assert.ok(new Set(values.map((v) => v.uncertainty.toFixed(6))).size > 5, 'uncertainty varies by material');
  assert.ok(values.every((v) => v.uncertainty >= 0 && Number.isFinite(v.uncertainty)));
});

test('the child-process runner trains the same member as the in-process one (bit for bit)', async () => {
  const targets = Float64Array.from(gaps);
  const d = { id: 'gaps', inputs, targets, experts: composition };
  const job = { config: { experts: composition.map((e) => e.key), k: 2, epochs: 3, batchSize: 16, seed: 5 }, split: { train: split.train, val: split.val } };
  const here = await runTrainJob(d, job);
  const runner = childProcessRunner({ parallel: 1 });
  try {
    runner.addDataset(d);
    const there = await runner.run({ dataset: 'gaps', ...job });
    assert.deepEqual(serializeCheckpoint(there.model), serializeCheckpoint(here.model));
    assert.deepEqual(there.valRaw, here.valRaw);
    await assert.rejects(runner.run({ dataset: 'nope', ...job }), /not registered/);
  } finally {
    await runner.close();
  }
  // The in-process runner queues jobs one after the other and gives the same result.
  const local = inProcessRunner();
  local.addDataset(d);
  const queued = await Promise.all([local.run({ dataset: 'gaps', ...job }), local.run({ dataset: 'gaps', ...job, priority: -1 })]);
  assert.deepEqual(queued.map((q) => serializeCheckpoint(q.model)), [serializeCheckpoint(here.model), serializeCheckpoint(here.model)]);
});
