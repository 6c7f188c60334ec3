import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { parseFormula } from '../../src/chem/formula.js';
import type { CrystalGraph } from '../../src/ml/cgcnn/batching.js';
import type { TrainableOptions } from '../../src/ml/experts/expert-kind.js';
import { loadSourceSet, subsampleSplit } from '../../scripts/lib/sources.js';
import { trainZooExpert } from '../../scripts/lib/composition-zoo.js';
import { compositionEmbeddings } from '../../src/ml/composition/expert.js';
import { compositionKind, inputComposition, scratchCompositionExpert } from '../../src/ml/composition/kind.js';

const backend = await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');

const set = loadSourceSet('mp_log_gvrh');
const z = trainZooExpert(set, {
  recipe: { encoder: [48, 64], head: [16], epochs: 1, batchSize: 128 },
  split: subsampleSplit(set, 0.05, 2),
  backend: backend.name,
  machine: 'test',
});
const expert = z;
const formulas = ['Fe2O3', 'NaCl', 'MgO', 'SiC', 'TiO2', 'GaN'];
const inputs = formulas.map((formula) => ({ formula }));
const comps = formulas.map((f) => parseFormula(f).amounts);
const opts = (finetuneLayers: number): TrainableOptions => ({ finetuneLayers, scratch: false, batchNorm: 'running', frozenBatchNorm: 'source', maxBatchAtoms: 1000, dedupeTolerance: null });
const rowsOf = (...r: number[]) => ({ rows: Int32Array.from(r) });

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('the kind validates its experts and embeds like compositionEmbeddings', () => {
  assert.equal(compositionKind.kind, 'composition');
  assert.doesNotThrow(() => compositionKind.validate(expert));
  assert.throws(() => compositionKind.validate({ ...expert, kind: 'cgcnn' }), /kind "cgcnn"/);
  const broken = new Map(expert.weights);
  broken.delete('encoder.1.weight');
  assert.throws(() => compositionKind.validate({ ...expert, weights: broken }), /encoder\.1\.weight/);
  const e = compositionKind.embed(expert, inputs);
  assert.deepEqual(e, compositionEmbeddings(z, comps));
  assert.equal(e.length, formulas.length * 64);
});

test('a structure is reduced to its composition', () => {
  const graph: CrystalGraph = { atomicNumbers: Int32Array.from([26, 8, 26, 8, 8]), nbrIdx: new Int32Array(0), nbrDist: new Float32Array(0), maxNeighbors: 12 };
  assert.deepEqual(inputComposition({ graph }), { Fe: 2, O: 3 });
  assert.deepEqual(compositionKind.embed(expert, [{ graph }]), compositionKind.embed(expert, [{ formula: 'Fe4O6' }]));
  assert.throws(() => inputComposition({}), /formula or a structure/);
});

test('frozen (finetuneLayers 0): no variables, embeddings of the stored expert, cached rows', () => {
  const before = tf.memory().numTensors;
  const t = compositionKind.createTrainable(expert, opts(0));
  assert.equal(t.variables.length, 0);
  assert.equal(t.dim, 64);
  t.prepare(inputs);
  const ref = compositionEmbeddings(z, comps);
  const e = t.embed(rowsOf(3, 0), false);
  assert.deepEqual(e.shape, [2, 64]);
  const v = e.dataSync();
  assert.ok(maxDiff(v.subarray(0, 64), ref.subarray(3 * 64, 4 * 64)) < 1e-6);
  assert.ok(maxDiff(v.subarray(64), ref.subarray(0, 64)) < 1e-6);
  e.dispose();
  // The first cached call happens inside a tidy (as in a trainer's predict step): the cache must survive it.
  const c1 = tf.tidy(() => t.embed({ rows: Int32Array.from([1, 2]), cacheKey: 'val' }, false).dataSync());
  const c2 = t.embed({ rows: Int32Array.from([1, 2]), cacheKey: 'val' }, false);
  assert.deepEqual(c2.dataSync(), c1);
  c2.dispose();
  t.dispose();
  assert.equal(tf.memory().numTensors, before, 'dispose frees every tensor');
});

test('fine-tuning the last layer: its variables train, snapshot/restore and exportWeights round-trip', () => {
  const t = compositionKind.createTrainable(expert, opts(1));
  try {
    assert.equal(t.variables.length, 2);
    t.prepare(inputs);
    const ref = compositionEmbeddings(z, comps);
    const e0 = t.embed(rowsOf(0, 1, 2, 3, 4, 5), true);
    assert.ok(maxDiff(e0.dataSync(), ref) < 1e-5, 'frozen prefix + trainable last layer = the stored expert');
    e0.dispose();
    const saved = t.snapshot();
    // One gradient step on the embedding's sum moves the last layer.
    const { grads, value } = tf.variableGrads(() => tf.sum(t.embed(rowsOf(0, 1, 2), true)) as tf.Scalar, t.variables);
    assert.equal(Object.keys(grads).length, 2);
    for (const v of t.variables) tf.tidy(() => v.assign(tf.sub(v, tf.mul(grads[v.name], 0.05))));
    tf.dispose([value, ...Object.values(grads)]);
    const e1 = t.embed(rowsOf(0), false);
    assert.ok(maxDiff(e1.dataSync(), ref.subarray(0, 64)) > 1e-3, 'the embedding moved');
    e1.dispose();
    const moved = t.exportWeights();
    assert.deepEqual(moved.weights.get('encoder.0.weight')!.data, expert.weights.get('encoder.0.weight')!.data, 'frozen layer untouched');
    assert.notDeepEqual(moved.weights.get('encoder.1.weight')!.data, expert.weights.get('encoder.1.weight')!.data);
    assert.equal(moved.baseSha256, z.baseSha256);
    // The exported weights embed like the trainable does now.
    const e2 = t.embed(rowsOf(0, 1, 2, 3, 4, 5), false);
    assert.ok(maxDiff(compositionKind.embed(moved, inputs), e2.dataSync()) < 1e-5);
    e2.dispose();
    t.restore(saved);
    const e3 = t.embed(rowsOf(0), false);
    assert.ok(maxDiff(e3.dataSync(), ref.subarray(0, 64)) < 1e-5, 'restore brings the snapshot back');
    e3.dispose();
  } finally {
    t.dispose();
  }
});

test('finetuneLayers beyond the encoder depth trains the whole encoder', () => {
  const t = compositionKind.createTrainable(expert, opts(4));
  try {
    assert.equal(t.variables.length, 4);
    t.prepare(inputs);
    const e = t.embed(rowsOf(0, 1, 2, 3, 4, 5), false);
    assert.ok(maxDiff(e.dataSync(), compositionEmbeddings(z, comps)) < 1e-5);
    e.dispose();
  } finally {
    t.dispose();
  }
});

test('a scratch expert trains every layer and standardises with its inputs\' statistics', () => {
  const base = scratchCompositionExpert('scratch_comp', 5);
  assert.doesNotThrow(() => compositionKind.validate(base));
  const t = compositionKind.createTrainable(base, { ...opts(1), scratch: true });
  try {
    assert.equal(t.variables.length, 6, 'weight and bias of the three encoder layers');
    t.prepare(inputs);
    const mean = t.exportWeights().weights.get('input.mean')!.data;
    // Column of the Fe fraction: Fe2O3 is the only input with iron (2/5), so the mean over 6 inputs is 0.4 / 6.
    assert.ok(Math.abs(mean[25] - 0.4 / 6) < 1e-6, `${mean[25]}`);
    // With statRows (the training split) only those rows count: Fe2O3 and NaCl → 0.4 / 2.
    t.prepare(inputs, { statRows: [0, 1] });
    assert.ok(Math.abs(t.exportWeights().weights.get('input.mean')!.data[25] - 0.2) < 1e-6);
    const e = t.embed(rowsOf(0, 1, 2), true);
    assert.deepEqual(e.shape, [3, 64]);
    assert.ok(e.dataSync().every(Number.isFinite));
    e.dispose();
  } finally {
    t.dispose();
  }
});
