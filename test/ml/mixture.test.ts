import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/ml/tf.js';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { expertEmbeddings, type CgcnnExpert } from '../../src/ml/cgcnn/expert.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { predictMixture } from '../../src/ml/mixture/model.js';
import { cgcnnKind } from '../../src/ml/cgcnn/kind.js';
import { trainMixture, type MixtureData } from '../../src/ml/mixture/trainer.js';
import { Adam, cosineFactor } from '../../src/ml/adam.js';
import { fitNormalizer } from '../../src/ml/mixture/normalizer.js';
import { fixtureGraphs } from './fixture-graphs.js';
import { adaptFrozenBatchNorm } from '../../src/ml/cgcnn/adapt-batchnorm.js';
import { graphStore, storeBatch } from '../../src/ml/cgcnn/batching.js';
import { atomStates, batchTensors, cgcnnTensors, convPreActivations, disposeBatchTensors, disposeCgcnnTensors } from '../../src/ml/cgcnn/forward.js';
import { resolveConfig } from '../../src/ml/mixture/config.js';
import { topK, gateTieRank, gateState, gatePenalty, mixEmbeddings, penaltyTensor } from '../../src/ml/mixture/gate.js';
import { headForward } from '../../src/ml/mixture/head.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const shipped = await loadShippedExperts('cgcnn');
const byKey = (k: string): CgcnnExpert => shipped.find((e) => e.card.key === k)!;

/** 12 fixture crystals, each twice (24 rows), target = a smooth function of composition, in a fixed split. */
function tinyData(): MixtureData {
  const inputs = [...fixtureGraphs, ...fixtureGraphs].map((graph) => ({ graph }));
  const targets = inputs.map(({ graph }, i) => {
    const z = graph.atomicNumbers;
    return z.reduce((a, b) => a + b, 0) / z.length / 10 + (i % 3) * 0.05;
  });
  return { inputs, targets, split: { train: [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19], val: [8, 9, 20, 21], test: [10, 11, 22, 23] } };
}

test('top-k takes the largest logits and breaks ties towards the lower index', () => {
  assert.deepEqual(topK([1, 1, 1, 1], 2), [0, 1]);
  assert.deepEqual(topK([0.5, 2, 1, 2], 3), [1, 3, 2]);
  assert.deepEqual(topK([3, -1, 2], 1), [0]);
  assert.deepEqual(topK([1, 1, 1, 1], 2, [3, 2, 0, 1]), [2, 3]);
  const r = gateTieRank(18, 'seeded', 5);
  assert.deepEqual([...r].sort((a, b) => a - b), Array.from({ length: 18 }, (_, i) => i));
  assert.deepEqual(gateTieRank(18, 'seeded', 5), r);
  assert.notDeepEqual(gateTieRank(18, 'seeded', 6), r);
  assert.deepEqual([...gateTieRank(4, 'index', 5)], [0, 1, 2, 3]);
});

test('gate weights are the softmax of the selected logits and the penalty is (Σp² − 1)²', () => {
  const g = gateState([1.2, 0.3, 2.0, 1.9], 2);
  assert.deepEqual(g.selected, [2, 3]);
  const e0 = Math.exp(2.0);
  const e1 = Math.exp(1.9);
  assert.ok(Math.abs(g.weights[0] - e0 / (e0 + e1)) < 1e-12);
  assert.ok(Math.abs(g.weights[1] - e1 / (e0 + e1)) < 1e-12);
  // hand values: p = (0.5, 0.5) → Σp² = 0.5 → 0.25; one expert → 0; three equal → (1/3 − 1)² = 4/9
  assert.equal(gatePenalty([0.5, 0.5]), 0.25);
  assert.equal(gatePenalty([1]), 0);
  assert.ok(Math.abs(gatePenalty([1 / 3, 1 / 3, 1 / 3]) - 4 / 9) < 1e-12);
});

test('mixed embedding, head output shape and gradients reach only the selected logits', () => {
  const logits = tf.variable(tf.tensor1d([1, 3, 2, 0.5]));
  const e1 = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const e2 = tf.tensor2d([[0, 1], [1, 0], [2, 2]]);
  const g = gateState(logits.dataSync(), 2);
  assert.deepEqual(g.selected, [1, 2]);
  const { mixed, p } = mixEmbeddings(logits, g.selected, [e1, e2]);
  const pa = Array.from(p.dataSync());
  const q = Math.exp(3) / (Math.exp(3) + Math.exp(2));
  assert.ok(Math.abs(pa[0] - q) < 1e-6);
  const m = mixed.arraySync();
  assert.ok(Math.abs(m[1][0] - (q * 3 + (1 - q) * 1)) < 1e-5);
  assert.ok(Math.abs(penaltyTensor(p).dataSync()[0] - gatePenalty(pa)) < 1e-6);
  const layers = [
    { w: tf.ones([2, 3]) as tf.Tensor2D, b: tf.zeros([3]) as tf.Tensor1D },
    { w: tf.ones([3, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D },
  ];
  const y = headForward(layers, mixed);
  assert.deepEqual(y.shape, [3]);
  // hand: row 0 of mixed = q·[1,2] + (1−q)·[0,1]; layer 1 → 3 × softplus(sum), layer 2 sums
  const s0 = q * 1 + q * 2 + (1 - q) * 1;
  assert.ok(Math.abs(y.dataSync()[0] - 3 * Math.log1p(Math.exp(s0))) < 1e-4);
  const { grads } = tf.variableGrads(() => tf.sum(headForward(layers, mixEmbeddings(logits, g.selected, [e1, e2]).mixed)) as tf.Scalar, [logits]);
  const gl = grads[logits.name].dataSync();
  assert.equal(gl[0], 0);
  assert.equal(gl[3], 0);
  assert.notEqual(gl[1], 0);
  assert.ok(Math.abs(gl[1] + gl[2]) < 1e-5, 'softmax logits gradients sum to zero');
});

test('config defaults are the paper protocol; pairwise and scratch use one expert', () => {
  const c = resolveConfig({}, shipped.map((e) => e.card.key));
  assert.equal(c.experts.length, 18);
  assert.deepEqual([c.k, c.lr, c.finetuneLr, c.batchSize, c.epochs, c.patience, c.penalty, c.cosineTMax], [2, 0.01, 0.005, 250, 1000, 500, 0.01, 1000]);
  assert.deepEqual(c.headHidden, [32, 32]);
  assert.equal(resolveConfig({ mode: 'pairwise', experts: ['mp_eform'] }, ['mp_eform']).k, 1);
  assert.throws(() => resolveConfig({ mode: 'pairwise', experts: ['mp_eform', 'mp_gvrh'] }, ['mp_eform', 'mp_gvrh']), /exactly one/);
  assert.throws(() => resolveConfig({ k: 3, experts: ['mp_eform', 'mp_gvrh'] }, ['mp_eform', 'mp_gvrh']), /k must/);
});

test('Adam matches a hand-computed PyTorch step and the cosine schedule', () => {
  const v = tf.variable(tf.tensor1d([1, -2]));
  const adam = new Adam([{ params: [v], lr: 0.1 }]);
  adam.step(new Map([[v, tf.tensor1d([0.5, -4])]]), 1);
  // first step: m̂ = g, v̂ = g², update = lr · g / (|g| + eps) = ±0.1
  const a = v.dataSync();
  assert.ok(Math.abs(a[0] - 0.9) < 1e-6 && Math.abs(a[1] + 1.9) < 1e-6);
  adam.step(new Map(), 1); // a parameter that had a gradient keeps moving on its momentum (PyTorch 1.9 zero_grad)
  assert.ok(v.dataSync()[0] < 0.9);
  adam.dispose();
  assert.equal(cosineFactor(0, 1000), 1);
  assert.ok(Math.abs(cosineFactor(500, 1000) - 0.5) < 1e-12);
  assert.ok(cosineFactor(1000, 1000) < 1e-12);
});

test('normaliser uses train+val only, with the unbiased std', () => {
  const n = fitNormalizer([1, 2, 3, 100], [0, 1, 2]);
  assert.equal(n.mean, 2);
  assert.equal(n.std, 1);
});

test('symmetry dedupe leaves embeddings unchanged in eval and in batch-statistics training forwards', () => {
  // relative to max(1, |v|): exact keys leave float rounding only; the default 1e-4 Å grid merges near-equivalent atoms
  const data = tinyData();
  const rows = Int32Array.from({ length: 12 }, (_, i) => i);
  for (const key of ['mp_eform', 'weighted_p_e_cond', 'jarvis_dielectric_opt']) {
    const e = byKey(key);
    const base = e;
    const opts = { finetuneLayers: 1, scratch: false, batchNorm: 'batch' as const, frozenBatchNorm: 'source' as const, maxBatchAtoms: 1000 };
    const full = cgcnnKind.createTrainable(base, { ...opts, dedupeTolerance: null });
    full.prepare(data.inputs);
    const ref = expertEmbeddings(e, fixtureGraphs);
    for (const [tol, bound] of [[0, 1e-5], [1e-4, 2e-5]] as const) {
      const fast = cgcnnKind.createTrainable(base, { ...opts, dedupeTolerance: tol });
      fast.prepare(data.inputs);
      for (const training of [false, true]) {
        const a = fast.embed({ rows }, training).dataSync();
        const b = full.embed({ rows }, training).dataSync();
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
        assert.ok(worst < bound, `${key} tol=${tol} training=${training}: dedupe differs by ${worst}`);
        if (!training) for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - ref[i]) / Math.max(1, Math.abs(ref[i])) < bound);
      }
      fast.dispose();
    }
    full.dispose();
  }
});

test('a tiny training run lowers the loss, is deterministic for a seed, and serves what it validated', async () => {
  const data = tinyData();
  const experts = ['mp_eform', 'jarvis_eform', 'mp_bandgap'].map(byKey);
  const config = { experts: experts.map((e) => e.card.key), k: 2, epochs: 15, batchSize: 6, patience: 100, seed: 3 };
  const tensorsBefore = tf.memory().numTensors;
  const r1 = await trainMixture(data, config, { experts });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'training leaves no tensors behind');
  const first = r1.history[0].trainLoss;
  const last = Math.min(...r1.history.slice(-5).map((h) => h.trainLoss));
  assert.ok(last < first * 0.7, `train loss ${first} → ${last}`);
  assert.equal(r1.model.selected.length, 2);
  assert.ok(Math.abs(r1.model.gateWeights[0] + r1.model.gateWeights[1] - 1) < 1e-6);
  const r2 = await trainMixture(data, config, { experts });
  assert.deepEqual(r2.history.map((h) => h.trainLoss), r1.history.map((h) => h.trainLoss));
  assert.deepEqual(r2.model.gateLogits, r1.model.gateLogits);
  // predictMixture (inference path) agrees with the trainer's own validation MAE
  const pred = predictMixture(r1.model, data.split.val.map((i) => data.inputs[i]));
  const mae = data.split.val.reduce((a, r, i) => a + Math.abs(pred[i] - data.targets[r]), 0) / data.split.val.length;
  assert.ok(Math.abs(mae - r1.valMae) < 1e-4, `served MAE ${mae} vs validated ${r1.valMae}`);
});

test("frozen layers' BatchNorm re-estimated on the training rows normalises exactly those rows", () => {
  const e = byKey('jarvis_bandgap');
  const rows = [0, 1, 2, 3, 4, 5, 6, 7];
  const store = graphStore(fixtureGraphs);
  const adapted = adaptFrozenBatchNorm(e.weights, store, rows, 3, 1000);
  assert.deepEqual(adapted.get('convs.3.bn1.running_mean')!.data, e.weights.get('convs.3.bn1.running_mean')!.data);
  assert.deepEqual(adapted.get('embedding.weight')!.data, e.weights.get('embedding.weight')!.data);
  const t = cgcnnTensors(adapted);
  const b = batchTensors(storeBatch(store, rows));
  for (let c = 0; c < 3; c++) {
    const conv = t.convs[c];
    const [mean, variance] = tf.tidy(() => {
      const pre = convPreActivations(conv, atomStates(t, b, c), b.nbrIdx, b.edgeFea, 12);
      const m = tf.moments(tf.concat([pre.filter, pre.core], 2), [0, 1]);
      return [m.mean.dataSync(), m.variance.dataSync()];
    });
    const rm = adapted.get(`convs.${c}.bn1.running_mean`)!.data;
    const rv = adapted.get(`convs.${c}.bn1.running_var`)!.data;
    assert.notDeepEqual(rm, e.weights.get(`convs.${c}.bn1.running_mean`)!.data);
    for (let k = 0; k < 128; k++) {
      // the running variance is the unbiased one: n/(n−1) times the population variance of the n edge slots
      const n = b.edgeFea.shape[0];
      assert.ok(Math.abs(mean[k] - rm[k]) < 1e-4 * Math.max(1, Math.abs(rm[k])), `conv ${c} channel ${k} mean ${mean[k]} vs ${rm[k]}`);
      assert.ok(Math.abs((variance[k] * n) / (n - 1) - rv[k]) < 1e-4 * Math.max(1, rv[k]), `conv ${c} channel ${k} var ${variance[k]} vs ${rv[k]}`);
    }
  }
  disposeCgcnnTensors(t);
  disposeBatchTensors(b);
});

test('pairwise transfer and training from scratch are options of the same trainer', async () => {
  const data = tinyData();
  const experts = [byKey('mp_eform')];
  for (const cfg of [
    { mode: 'pairwise' as const, experts: ['mp_eform'] },
    { mode: 'scratch' as const },
  ]) {
    const r = await trainMixture(data, { ...cfg, epochs: cfg.mode === 'scratch' ? 3 : 10, batchSize: 8, seed: 1 }, { experts });
    assert.deepEqual(r.model.gateWeights, [1]);
    assert.ok(r.history.at(-1)!.trainLoss < r.history[0].trainLoss * 0.8, `${cfg.mode}: ${r.history[0].trainLoss} → ${r.history.at(-1)!.trainLoss}`);
    const pred = predictMixture(r.model, data.inputs);
    assert.equal(pred.length, data.inputs.length);
  }
});

test('training stops on abort', async () => {
  const ac = new AbortController();
  const data = tinyData();
  const experts = [byKey('mp_eform')];
  await assert.rejects(
    trainMixture(data, { mode: 'pairwise', experts: ['mp_eform'], epochs: 50 }, { experts, signal: ac.signal, onEpoch: (p) => (p.epoch === 1 ? ac.abort() : undefined) }),
    { name: 'AbortError' },
  );
});
