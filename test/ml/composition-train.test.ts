import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { compositionFeatureMatrix, featureCount } from '../../src/chem/descriptors.js';
import { loadSourceSet, subsampleSplit } from '../../scripts/lib/sources.js';
import { defaultArchitecture } from '../../src/ml/composition/model.js';
import { pretrainCompositionExpert } from '../../scripts/lib/composition-pretrain.js';
import { stableCard, trainZooExpert } from '../../scripts/lib/composition-zoo.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import {
  compositionEmbeddings,
  compositionExpertFromBytes,
  predictCompositionExpert,
  serializeCompositionExpert,
} from '../../src/ml/composition/expert.js';

const backend = await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');

// A small real problem: ~9 % of the Materials Project bulk moduli (≈ 800 train / 90 validation formulas).
const set = loadSourceSet('mp_log_kvrh');
const split = subsampleSplit(set, 0.09, 3);
const features = compositionFeatureMatrix(set.compositions);
const tiny = { encoder: [32, 64], head: [16], epochs: 6, patience: 10, batchSize: 64, lr: 3e-3, weightDecay: 0, seed: 11 };
const arch = defaultArchitecture(featureCount, tiny.encoder, tiny.head);
const data = { features, targets: set.targets, train: split.train, val: split.val };

test('the source set merges polymorphs and its held-out formulas never appear in training', () => {
  assert.equal(set.formulas.length, new Set(set.formulas).size);
  assert.ok(set.fileRows > set.formulas.length, 'mp_log_kvrh has polymorphs to merge');
  const train = new Set(Array.from(set.train, (i) => set.formulas[i]));
  assert.ok(Array.from(set.val).every((i) => !train.has(set.formulas[i])));
  assert.equal(set.train.length + set.val.length, set.formulas.length);
  assert.ok(Math.abs(set.val.length / set.formulas.length - 0.1) < 0.001);
  // A merged formula carries the mean of its rows (Ca(AgGe)2 appears once in the file, the first formula with 2+ rows is checked).
  const k = set.multiplicity.findIndex((m) => m > 1);
  assert.ok(k >= 0);
});

test('a JARVIS set keeps its own split: the test rows are the validation formulas', () => {
  const j = loadSourceSet('jarvis3d_shear_gv');
  assert.equal(j.splitKind, 'source');
  const train = new Set(Array.from(j.train, (i) => j.formulas[i]));
  assert.ok(Array.from(j.val).every((i) => !train.has(j.formulas[i])));
  // CrossPropertyTL's test set has 1021 rows; merged into distinct formulas it is a little smaller.
  assert.ok(j.val.length <= 1021 && j.val.length > 950, `${j.val.length}`);
});

test('pre-training lowers the loss and beats the mean predictor on held-out formulas', () => {
  const r = pretrainCompositionExpert(data, { architecture: arch, ...tiny });
  assert.equal(r.history.length, r.epochsRun);
  assert.ok(r.history[r.history.length - 1].trainLoss < 0.6 * r.history[0].trainLoss, JSON.stringify(r.history.map((h) => h.trainLoss)));
  assert.ok(r.valMae < 0.6 * r.baselineValMae, `val MAE ${r.valMae} vs mean-predictor ${r.baselineValMae}`);
  assert.equal(r.history[r.bestEpoch].valMae, Math.min(...r.history.map((h) => h.valMae)));
  assert.ok(Math.abs(r.valMae - r.history[r.bestEpoch].valMae) < 1e-9, 'returned weights are those of the best epoch');
});

test('pre-training is deterministic: same seed, bit-identical weights; another seed differs', () => {
  const short = { ...tiny, epochs: 2 };
  const before = tf.memory().numTensors;
  const a = pretrainCompositionExpert(data, { architecture: arch, ...short });
  assert.equal(tf.memory().numTensors, before, 'training leaves no tensors behind');
  const b = pretrainCompositionExpert(data, { architecture: arch, ...short });
  const c = pretrainCompositionExpert(data, { architecture: arch, ...short, seed: 12 });
  for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)!.data, t.data, name);
  assert.notDeepEqual(c.weights.get('encoder.0.weight')!.data, a.weights.get('encoder.0.weight')!.data);
});

test('a zoo expert survives save → load with identical predictions and embeddings, and its file is byte-reproducible', async () => {
  const opts = { recipe: { ...tiny, epochs: 2 }, split, backend: backend.name, machine: 'test' };
  const z = trainZooExpert(set, opts);
  const again = trainZooExpert(set, opts);
  assert.equal(again.baseSha256, z.baseSha256, 'same inputs, same bytes');
  assert.equal(z.card.key, 'comp_mp_log_kvrh');
  assert.equal(z.card.unit, 'log10(GPa)');
  assert.equal(z.card.rows.train, split.train.length);

  const comps = Array.from(split.val.slice(0, 40), (i) => set.compositions[i]);
  const direct = predictCompositionExpert(z, comps);
  const parsed = compositionExpertFromBytes(z.bytes);
  assert.deepEqual(parsed.card, stableCard(z.card), 'the file carries the card without run timings');
  assert.deepEqual(predictCompositionExpert(parsed, comps), direct);
  assert.deepEqual(compositionEmbeddings(parsed, comps), compositionEmbeddings(z, comps));

  const dir = await mkdtemp(join(tmpdir(), 'comp-experts-'));
  try {
    await writeFile(join(dir, z.card.file), z.bytes);
    await writeFile(join(dir, 'experts.json'), JSON.stringify([z.card]));
    const [loaded] = await loadShippedExperts('composition', dir);
    assert.equal(loaded.baseSha256, z.baseSha256);
    assert.deepEqual(predictCompositionExpert(loaded, comps), direct);
    // Predictions are in the card's unit: near the held-out targets, not z-scores.
    const mae = comps.reduce((s, _, k) => s + Math.abs(direct[k] - set.targets[split.val[k]]), 0) / comps.length;
    assert.ok(mae < 0.3, `MAE ${mae} log10(GPa)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a weights file whose featurizer differs from this build is refused', () => {
  const z = trainZooExpert(set, { recipe: { ...tiny, epochs: 1 }, split, backend: backend.name, machine: 'test' });
  const card = { ...stableCard(z.card), featurizer: { ...z.card.featurizer, version: 'magpie-comp-v0' } };
  assert.throws(() => compositionExpertFromBytes(serializeCompositionExpert(card, z.weights)), /featurizer magpie-comp-v0/);
});
