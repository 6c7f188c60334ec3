import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { loadCheckpoint, serializeCheckpoint } from '../../src/ml/mixture/checkpoint.js';
import { parseFormula } from '../../src/chem/formula.js';
import { predictCompositionExpert } from '../../src/ml/composition/expert.js';
import { compositionKind, scratchCompositionExpert } from '../../src/ml/composition/kind.js';
import { fitRidge, predictRidge, probeExperts, probeLogits, probeLogitsByGroup } from '../../src/ml/mixture/probe.js';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import type { ExpertWeights } from '../../src/ml/experts/expert-kind.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { predictMixture } from '../../src/ml/mixture/model.js';
import { trainMixture, type MixtureData } from '../../src/ml/mixture/trainer.js';
import { fixtureGraphs } from './fixture-graphs.js';
import { resolveConfig } from '../../src/ml/mixture/config.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const cgcnn = await loadShippedExperts('cgcnn');
const composition = await loadShippedExperts('composition');
const pick = (pool: ExpertWeights[], ...keys: string[]) => keys.map((k) => pool.find((e) => e.key === k)!);

/** 12 fixture crystals, each twice, as structures only: composition experts read the structure's sites. */
function crystals(): MixtureData {
  const inputs = [...fixtureGraphs, ...fixtureGraphs].map((graph) => ({ graph }));
  const targets = inputs.map(({ graph }, i) => graph.atomicNumbers.reduce((a, b) => a + b, 0) / graph.atomicNumbers.length / 10 + (i % 3) * 0.05);
  return { inputs, targets, split: { train: [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19], val: [8, 9, 20, 21], test: [10, 11, 22, 23] } };
}

const changed = (a: ExpertWeights, b: ExpertWeights, name: string) => {
  const x = a.weights.get(name)!.data;
  const y = b.weights.get(name)!.data;
  return x.some((v, i) => v !== y[i]);
};

test('one mixture over both kinds: structure and composition experts train together and the model serves structures', async () => {
  const data = crystals();
  const experts = [...pick(cgcnn, 'mp_eform'), ...pick(composition, 'comp_mp_e_form', 'comp_jarvis3d_e_form')];
  const r = await trainMixture(data, { experts: experts.map((e) => e.key), k: 2, epochs: 8, batchSize: 8, patience: 100, seed: 2, gateWarmup: 2, finetuneLayersByKind: { composition: 3 } }, { experts });
  assert.deepEqual(r.model.expertKeys, ['mp_eform', 'comp_mp_e_form', 'comp_jarvis3d_e_form']);
  // Warm-up epochs mix all three; from then on top-2.
  assert.deepEqual(r.history.map((h) => h.gate.length), [3, 3, 2, 2, 2, 2, 2, 2]);
  assert.ok(r.bestEpoch >= 2, `best epoch ${r.bestEpoch} is after the warm-up`);
  // Every candidate's logit moved in the warm-up, not only the two selected first.
  assert.ok(r.model.gateLogits.every((l) => l !== 1), `${r.model.gateLogits}`);
  // CGCNN fine-tunes its last conv only (finetuneLayers 1); composition experts all three encoder layers.
  for (const e of r.model.experts) {
    const base = experts.find((b) => b.key === e.key)!;
    if (e.kind === 'cgcnn') {
      assert.ok(changed(e, base, 'convs.2.fc_full.weight'));
      assert.ok(!changed(e, base, 'convs.1.fc_full.weight'));
    } else {
      for (const l of [0, 1, 2]) assert.ok(changed(e, base, `encoder.${l}.weight`), `${e.key} encoder.${l}`);
    }
  }
  const pred = predictMixture(r.model, data.split.val.map((i) => data.inputs[i]));
  const mae = data.split.val.reduce((a, row, i) => a + Math.abs(pred[i] - data.targets[row]), 0) / data.split.val.length;
  assert.ok(Math.abs(mae - r.valMae) < 1e-4, `served ${mae} vs validated ${r.valMae}`);
  // A checkpoint of a mixed model round-trips.
  const back = loadCheckpoint(serializeCheckpoint(r.model));
  assert.deepEqual(predictMixture(back, data.inputs), predictMixture(r.model, data.inputs));
});

test('by default every kind fine-tunes finetuneLayers layers; finetuneLayersByKind overrides per kind', async () => {
  const data = crystals();
  const experts = pick(composition, 'comp_mp_e_form');
  assert.deepEqual(resolveConfig({}, ['a', 'b']).finetuneLayersByKind, {});
  const r = await trainMixture(data, { mode: 'pairwise', experts: ['comp_mp_e_form'], epochs: 3, batchSize: 8 }, { experts });
  assert.ok(!changed(r.model.experts[0], experts[0], 'encoder.0.weight'));
  assert.ok(!changed(r.model.experts[0], experts[0], 'encoder.1.weight'));
  assert.ok(changed(r.model.experts[0], experts[0], 'encoder.2.weight'));
  const two = await trainMixture(data, { mode: 'pairwise', experts: ['comp_mp_e_form'], epochs: 3, batchSize: 8, finetuneLayersByKind: { composition: 2 } }, { experts });
  assert.ok(!changed(two.model.experts[0], experts[0], 'encoder.0.weight'));
  assert.ok(changed(two.model.experts[0], experts[0], 'encoder.1.weight'));
  assert.throws(() => resolveConfig({ finetuneLayersByKind: { graphene: 2 } }, ['a', 'b']), /unknown expert kind "graphene"/);
  assert.throws(() => resolveConfig({ finetuneLayersByKind: { composition: 7 } }, ['a', 'b']), /finetuneLayers must be/);
});

test('the training loss is MSE (the paper) or L1 on the z-scored target, and the reported train loss is that term', async () => {
  const data = crystals();
  const experts = pick(composition, 'comp_mp_e_form', 'comp_jarvis3d_e_form');
  // Zero learning rates: the model stays at its initial state, so the reported loss can be recomputed from it.
  for (const loss of ['mse', 'l1'] as const) {
    const r = await trainMixture(data, { experts: experts.map((e) => e.key), epochs: 1, lr: 0, finetuneLr: 0, batchSize: 64, loss }, { experts });
    const rows = data.split.train;
    const pred = predictMixture(r.model, rows.map((i) => data.inputs[i]));
    const { mean, std } = r.model.normalizer;
    const z = rows.map((row, i) => (pred[i] - mean) / std - (data.targets[row] - mean) / std);
    const expected = z.reduce((a, d) => a + (loss === 'l1' ? Math.abs(d) : d * d), 0) / rows.length;
    assert.ok(Math.abs(r.history[0].trainLoss - expected) < 1e-4 * Math.max(1, expected), `${loss}: ${r.history[0].trainLoss} vs ${expected}`);
  }
  assert.throws(() => resolveConfig({ loss: 'huber' as 'l1' }, ['a', 'b']), /loss must be/);
  assert.throws(() => resolveConfig({ gateWarmup: 20, epochs: 10 }, ['a', 'b']), /gateWarmup must be/);
});

test('scratch mode trains a randomly initialised composition expert when one is given', async () => {
  const data = crystals();
  const scratch = scratchCompositionExpert('composition_scratch', 4);
  const r = await trainMixture(data, { mode: 'scratch', experts: ['composition_scratch'], epochs: 6, batchSize: 8, lr: 3e-3 }, { experts: [scratch] });
  assert.equal(r.model.experts[0].kind, 'composition');
  assert.ok(r.history.at(-1)!.trainLoss < r.history[0].trainLoss, `${r.history[0].trainLoss} → ${r.history.at(-1)!.trainLoss}`);
  assert.equal(predictMixture(r.model, data.inputs).length, data.inputs.length);
});

test('ridge probes recover a linear target exactly and rank the expert that holds the target first', async () => {
  // A noiseless linear function of 3 columns is fitted to ~1e-3 with λ = 1.
  const d = 3;
  const n = 200;
  const x = Float64Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7) * (1 + (i % d)));
  const y = Float64Array.from({ length: n }, (_, i) => 0.5 + 2 * x[i * d] - x[i * d + 1] + 0.25 * x[i * d + 2]);
  const fit = fitRidge(x, y, d, 1e-6);
  for (let i = 0; i < n; i += 37) assert.ok(Math.abs(predictRidge(fit, x.subarray(i * d, (i + 1) * d)) - y[i]) < 1e-3);

  // Target = what comp_mp_gap predicts: its probe must win, and the gate starts there.
  const formulas = readTaskRows('expt_bandgap').slice(0, 160).map((r) => r.formula);
  const experts = pick(composition, 'comp_mp_e_form', 'comp_mp_log_gvrh', 'comp_mp_gap', 'comp_jarvis3d_eps');
  const gapExpert = (await loadShippedExperts('composition')).find((b) => b.card.key === 'comp_mp_gap')!;
  const targets = Array.from(predictCompositionExpert(gapExpert, formulas.map((f) => parseFormula(f).amounts)));
  const rows = Array.from({ length: formulas.length }, (_, i) => i);
  const data: MixtureData = { inputs: formulas.map((formula) => ({ formula })), targets, split: { train: rows.slice(0, 120), val: rows.slice(120) } };
  const trainables = experts.map((e) => compositionKind.createTrainable(e, { finetuneLayers: 0, scratch: false, batchNorm: 'running', frozenBatchNorm: 'source', maxBatchAtoms: 1000, dedupeTolerance: null }));
  try {
    trainables.forEach((t) => t.prepare(data.inputs));
    const maes = probeExperts(trainables, Int32Array.from(data.split.train), Int32Array.from(data.split.val), (r) => targets[r]);
    assert.equal(maes.indexOf(Math.min(...maes)), 2, `probe MAEs ${maes}`);
    const logits = probeLogits(maes);
    assert.equal(logits[2], 1);
    assert.ok(logits.every((l, i) => i === 2 || l < 1));
  } finally {
    trainables.forEach((t) => t.dispose());
  }
  const r = await trainMixture(data, { experts: experts.map((e) => e.key), k: 2, epochs: 1, lr: 0, finetuneLr: 0, gateInit: 'probe' }, { experts });
  assert.equal(r.model.expertKeys[r.model.selected[0]], 'comp_mp_gap', 'the probe-ranked expert leads the gate');
});

test('probe-kinds ranks within each kind: the best crystal-graph and the best composition expert start the gate together', async () => {
  assert.deepEqual(probeLogitsByGroup([0.5, 0.2, 0.1, 0.4], ['cgcnn', 'cgcnn', 'composition', 'composition']).map((x) => Number(x.toFixed(6))), [-2, 1, 1, -2]);
  const data = crystals();
  const experts = [...pick(cgcnn, 'mp_eform', 'mp_bandgap'), ...pick(composition, 'comp_mp_e_form', 'comp_mp_gap')];
  const r = await trainMixture(data, { experts: experts.map((e) => e.key), k: 2, epochs: 1, lr: 0, finetuneLr: 0, gateInit: 'probe-kinds' }, { experts });
  assert.deepEqual(r.model.selected.map((i) => experts[i].kind).sort(), ['cgcnn', 'composition']);
  assert.equal(resolveConfig({ gateInit: 'probe-kinds' }, experts.map((e) => e.key)).gateInit, 'probe-kinds');
  assert.throws(() => resolveConfig({ gateInit: 'best' as 'probe' }, experts.map((e) => e.key)), /gateInit must be one of equal, probe, probe-kinds/);
});
