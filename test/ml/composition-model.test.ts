import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { compositionFeatures, featureCount, featurizerSpec } from '../../src/chem/descriptors.js';
import { parseFormula } from '../../src/chem/formula.js';
import {
  checkWeights,
  defaultArchitecture,
  EMBEDDING_DIM,
  expectedShapes,
  featureStats,
  initWeights,
  INPUT_MEAN,
  INPUT_STD,
  runModel,
  type CompositionArchitecture,
} from '../../src/ml/composition/model.js';
import { type StateDict } from '../../src/ml/safetensors.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');

const arch = defaultArchitecture(featureCount);
const formulas = ['Fe2O3', 'NaCl', 'LiCoO2', 'Si', 'CuSO4·5H2O', 'Ba0.5Sr0.5TiO3', 'GaAs', 'H2O'];
const comps = formulas.map((f) => parseFormula(f).amounts);
const features = new Float32Array(comps.length * featureCount);
comps.forEach((c, i) => features.set(compositionFeatures(c), i * featureCount));

/** Weights with non-trivial input statistics and biases, so every term of the forward pass matters. */
function weightsWithStats(a: CompositionArchitecture, seed: number): StateDict {
  const sd = initWeights(a, seed);
  const rows = Int32Array.from({ length: comps.length }, (_, i) => i);
  const s = featureStats(features, a.input_dim, rows);
  sd.set(INPUT_MEAN, { shape: [a.input_dim], data: s.mean });
  sd.set(INPUT_STD, { shape: [a.input_dim], data: s.std });
  for (const [name, t] of sd) if (name.endsWith('.bias')) t.data.forEach((_, i) => (t.data[i] = 0.01 * ((i % 7) - 3)));
  return sd;
}

const softplus = (x: number): number => (x > 30 ? x : Math.log1p(Math.exp(x)));

/** float64 reference forward written from the model's definition, independent of the tensor code. */
function referenceForward(sd: StateDict, a: CompositionArchitecture, x: Float32Array): { emb: number[]; y: number } {
  const mean = sd.get(INPUT_MEAN)!.data;
  const std = sd.get(INPUT_STD)!.data;
  let h = Array.from(x, (v, j) => (v - mean[j]) / std[j]);
  const dense = (v: number[], name: string, act: boolean): number[] => {
    const w = sd.get(`${name}.weight`)!;
    const b = sd.get(`${name}.bias`)!.data;
    const [nIn, nOut] = w.shape;
    const out: number[] = [];
    for (let o = 0; o < nOut; o++) {
      let s = b[o];
      for (let i = 0; i < nIn; i++) s += v[i] * w.data[i * nOut + o];
      out.push(act ? softplus(s) : s);
    }
    return out;
  };
  a.encoder.forEach((_, i) => (h = dense(h, `encoder.${i}`, true)));
  const emb = h;
  a.head.forEach((_, i) => (h = dense(h, `head.${i}`, true)));
  h = dense(h, `head.${a.head.length}`, false);
  return { emb, y: h[0] };
}

test('the default architecture maps 544 descriptors to a 64-d embedding and one output', () => {
  assert.equal(featureCount, 544);
  const shapes = expectedShapes(arch);
  assert.deepEqual(shapes.get('encoder.0.weight'), [featureCount, 256]);
  assert.deepEqual(shapes.get('encoder.1.weight'), [256, 128]);
  assert.deepEqual(shapes.get('encoder.2.weight'), [128, EMBEDDING_DIM]);
  assert.deepEqual(shapes.get('head.0.weight'), [EMBEDDING_DIM, 32]);
  assert.deepEqual(shapes.get('head.1.weight'), [32, 1]);
  assert.equal(EMBEDDING_DIM, 64);
});

test('embeddings are [n, 64], non-negative (softplus), and match a float64 reference forward pass', () => {
  const sd = weightsWithStats(arch, 7);
  const { embeddings, z } = runModel(sd, arch, features, true);
  assert.equal(embeddings.length, comps.length * 64);
  assert.equal(z.length, comps.length);
  assert.ok(embeddings.every((v) => v >= 0 && Number.isFinite(v)));
  let worst = 0;
  comps.forEach((_, r) => {
    const ref = referenceForward(sd, arch, features.subarray(r * featureCount, (r + 1) * featureCount));
    for (let k = 0; k < 64; k++) worst = Math.max(worst, Math.abs(embeddings[r * 64 + k] - ref.emb[k]));
    worst = Math.max(worst, Math.abs(z[r] - ref.y));
  });
  assert.ok(worst < 1e-4, `worst deviation from the reference ${worst}`);
  // Different materials get different embeddings.
  assert.notDeepEqual(Array.from(embeddings.subarray(0, 64)), Array.from(embeddings.subarray(64, 128)));
});

test('inference in several batches gives the same rows as one batch', () => {
  const sd = weightsWithStats(arch, 3);
  const many = new Float32Array(5000 * featureCount);
  for (let r = 0; r < 5000; r++) many.set(features.subarray((r % comps.length) * featureCount, ((r % comps.length) + 1) * featureCount), r * featureCount);
  const a = runModel(sd, arch, many, true);
  const b = runModel(sd, arch, features, true);
  for (const r of [0, 4095, 4096, 4999]) {
    const s = r % comps.length;
    assert.deepEqual(Array.from(a.embeddings.subarray(r * 64, (r + 1) * 64)), Array.from(b.embeddings.subarray(s * 64, (s + 1) * 64)));
  }
});

test('no tensors leak from inference', () => {
  const sd = weightsWithStats(arch, 3);
  runModel(sd, arch, features, true);
  const before = tf.memory().numTensors;
  runModel(sd, arch, features, true);
  assert.equal(tf.memory().numTensors, before);
});

test('feature statistics: train rows only, constant columns get std 1', () => {
  const d = 3;
  const x = Float32Array.from([1, 5, 100, 5, 5, 100, 1000, 5, 7]);
  const s = featureStats(x, d, [0, 1]);
  assert.deepEqual(Array.from(s.mean), [3, 5, 100]);
  assert.deepEqual(Array.from(s.std), [2, 1, 1]);
  const s2 = featureStats(x, d, [0, 1, 2]);
  const m = 1006 / 3;
  assert.ok(Math.abs(s2.std[0] - Math.sqrt(((1 - m) ** 2 + (5 - m) ** 2 + (1000 - m) ** 2) / 3)) < 1e-2);
  assert.equal(s2.std[1], 1);
  assert.ok(s2.std[2] > 40);
});

test('checkWeights rejects a missing tensor, a wrong shape, a non-finite value and a zero input std', () => {
  const good = initWeights(arch, 1);
  assert.doesNotThrow(() => checkWeights(good, arch));
  const missing = new Map(good);
  missing.delete('head.1.bias');
  assert.throws(() => checkWeights(missing, arch), /lack head\.1\.bias/);
  const wrong = new Map(good);
  wrong.set('encoder.1.weight', { shape: [256, 32], data: new Float32Array(256 * 32) });
  assert.throws(() => checkWeights(wrong, arch), /shape/);
  const nan = new Map(good);
  nan.set('encoder.0.bias', { shape: [256], data: new Float32Array(256).fill(Number.NaN) });
  assert.throws(() => checkWeights(nan, arch), /non-finite/);
  const zeroStd = new Map(good);
  zeroStd.set(INPUT_STD, { shape: [featureCount], data: new Float32Array(featureCount) });
  assert.throws(() => checkWeights(zeroStd, arch), /positive/);
  assert.throws(() => checkWeights(good, defaultArchitecture(featureCount, [256, 32])), /64-d embedding/);
});

test('initialisation is seeded: same seed, same weights; other seed, other weights', () => {
  const a = initWeights(arch, 5).get('encoder.0.weight')!.data;
  const b = initWeights(arch, 5).get('encoder.0.weight')!.data;
  const c = initWeights(arch, 6).get('encoder.0.weight')!.data;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(featurizerSpec().featureCount, featureCount);
});
