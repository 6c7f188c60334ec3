import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { predictMixture, mixtureGate } from '../../src/ml/mixture/model.js';
import { trainMixture } from '../../src/ml/mixture/trainer.js';
import { CheckpointError, checkpointSha256, loadCheckpoint, serializeCheckpoint } from '../../src/ml/mixture/checkpoint.js';
import { fixtureGraphs } from './fixture-graphs.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const shipped = await loadShippedExperts('cgcnn');

const inputs = fixtureGraphs.map((graph) => ({ graph }));
const targets = fixtureGraphs.map((g) => g.atomicNumbers.reduce((a, b) => a + b, 0) / g.atomicNumbers.length);
const experts = shipped.filter((e) => ['mp_eform', 'mp_gvrh', 'castelli_eform'].includes(e.card.key));
const result = await trainMixture(
  { inputs, targets, split: { train: [0, 1, 2, 3, 4, 5, 6, 7], val: [8, 9], test: [10, 11] } },
  { experts: experts.map((e) => e.card.key), k: 2, epochs: 4, batchSize: 4 },
  { experts },
);
const model = result.model;

test('a checkpoint loads back to bit-identical predictions and re-serialises to the same bytes', () => {
  const bytes = serializeCheckpoint(model);
  const loaded = loadCheckpoint(bytes);
  assert.deepEqual(predictMixture(loaded, inputs), predictMixture(model, inputs));
  assert.deepEqual(serializeCheckpoint(loaded), bytes);
  assert.deepEqual(mixtureGate(loaded), mixtureGate(model));
  assert.deepEqual(loaded.config, model.config);
  assert.deepEqual(loaded.normalizer, model.normalizer);
  assert.equal(loaded.experts.length, 2);
  // the fine-tuned last conv is stored, not the shipped one
  const shippedW = shipped.find((e) => e.card.key === loaded.experts[0].key)!.weights.get('convs.3.fc_full.weight')!.data;
  assert.notDeepEqual(loaded.experts[0].weights.get('convs.3.fc_full.weight')!.data, shippedW);
  assert.deepEqual(loaded.experts[0].weights.get('convs.0.fc_full.weight')!.data, shipped.find((e) => e.card.key === loaded.experts[0].key)!.weights.get('convs.0.fc_full.weight')!.data);
  assert.match(checkpointSha256(bytes), /^[0-9a-f]{64}$/);
});

test('a corrupted, truncated or foreign checkpoint is rejected', () => {
  const bytes = serializeCheckpoint(model);
  for (const pos of [100, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const bad = bytes.slice();
    bad[pos] ^= 0x01;
    assert.throws(() => loadCheckpoint(bad), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_checksum');
  }
  assert.throws(() => loadCheckpoint(bytes.subarray(0, bytes.length - 10)), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_checksum');
  const foreign = bytes.slice();
  foreign[0] = 0x58;
  assert.throws(() => loadCheckpoint(foreign), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_malformed');
});
