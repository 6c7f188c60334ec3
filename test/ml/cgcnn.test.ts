import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { fixture, fixtureGraphs } from './fixture-graphs.js';
import { expertEmbeddings, predictExpert } from '../../src/ml/cgcnn/expert.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { parseSafetensors, serializeSafetensors } from '../../src/ml/safetensors.js';
import { batchesByAtoms } from '../../src/ml/cgcnn/batching.js';

const graphs = fixtureGraphs;

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const experts = await loadShippedExperts('cgcnn');

test('18 experts load with sha256 and cards in the paper order', () => {
  assert.equal(experts.length, 18);
  assert.equal(experts[0].card.key, 'mp_eform');
  assert.equal(experts[17].card.key, 'jarvis_kvrh');
  for (const e of experts) assert.match(e.baseSha256, /^[0-9a-f]{64}$/);
});

test('embeddings of every fixture crystal match PyTorch to 1e-4, for all 18 experts', () => {
  let worst = 0;
  for (const expert of experts) {
    const emb = expertEmbeddings(expert, graphs, 40); // small atom budget: several batches, crystals mixed across them
    fixture.forEach((f, r) => {
      const ref = f.experts[expert.card.key];
      assert.ok(ref, `fixture lacks ${expert.card.key}`);
      for (let k = 0; k < 64; k++) worst = Math.max(worst, Math.abs(emb[r * 64 + k] - ref.embedding[k]));
    });
  }
  assert.ok(worst < 1e-4, `worst embedding error ${worst}`);
});

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));

test('predictions equal the fixture\'s expert heads (softplus before conv_to_fc, as trained) to 1e-4, for all 18 experts', () => {
  let worst = 0;
  for (const expert of experts) {
    const pred = predictExpert(expert, graphs, 40);
    fixture.forEach((f, r) => {
      worst = Math.max(worst, relErr(pred[r], f.experts[expert.card.key].prediction));
    });
  }
  assert.ok(worst < 1e-4, `worst prediction error ${worst}`);
});

test('batching by atoms keeps crystals whole and in order', () => {
  const groups = batchesByAtoms(graphs, graphs.map((_, i) => i), 20);
  assert.deepEqual(groups.flat(), graphs.map((_, i) => i));
  for (const g of groups) {
    const atoms = g.reduce((a, r) => a + graphs[r].atomicNumbers.length, 0);
    assert.ok(g.length === 1 || atoms <= 20);
  }
});

test('safetensors round trip is bit-exact and a truncated file is rejected', () => {
  const bytes = serializeSafetensors(experts[0].weights, { a: 'b' });
  const back = parseSafetensors(bytes);
  assert.equal(back.metadata.a, 'b');
  for (const [name, t] of experts[0].weights) assert.deepEqual(back.tensors.get(name)!.data, t.data);
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 4)), /does not match|fit/);
});
