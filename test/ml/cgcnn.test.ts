import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/ml/tf.js';
import { SHARED_DIR } from '../../src/paths.js';
import { atomicNumber } from '../../src/chem/elements.js';
import { loadShippedExperts, expertEmbeddings, predictExpert } from '../../src/ml/experts.js';
import { parseSafetensors, serializeSafetensors } from '../../src/ml/safetensors.js';
import { batchesByAtoms, type CrystalGraph } from '../../src/ml/batching.js';

interface FixtureEntry {
  id: string;
  structure: { sites: { species: { element: string }[] }[] };
  nbr_idx: number[][];
  nbr_dist: number[][];
  experts: Record<string, { embedding: number[]; prediction: number }>;
}

const fixture = JSON.parse(readFileSync(join(SHARED_DIR, 'fixtures', 'cgcnn_reference.json'), 'utf8')) as FixtureEntry[];

/** The fixture's own neighbour lists, so this test checks the network and not the neighbour search. */
function fixtureGraph(e: FixtureEntry): CrystalGraph {
  return {
    atomicNumbers: Int32Array.from(e.structure.sites.map((s) => atomicNumber(s.species[0].element)!)),
    nbrIdx: Int32Array.from(e.nbr_idx.flat()),
    nbrDist: Float32Array.from(e.nbr_dist.flat()),
    maxNeighbors: 12,
  };
}

await tf.setBackend(process.env.TFJS_BACKEND ?? 'cpu');
const experts = await loadShippedExperts();
const graphs = fixture.map(fixtureGraph);

test('18 experts load with sha256 and cards in the paper order', () => {
  assert.equal(experts.length, 18);
  assert.equal(experts[0].card.key, 'mp_eform');
  assert.equal(experts[17].card.key, 'jarvis_kvrh');
  for (const e of experts) assert.match(e.sha256, /^[0-9a-f]{64}$/);
});

test('embeddings and predictions of every fixture crystal match PyTorch to 1e-4, for all 18 experts', () => {
  let worstEmb = 0;
  let worstPred = 0;
  for (const expert of experts) {
    const emb = expertEmbeddings(expert, graphs, 40); // small atom budget: several batches, crystals mixed across them
    const pred = predictExpert(expert, graphs);
    fixture.forEach((f, r) => {
      const ref = f.experts[expert.card.key];
      assert.ok(ref, `fixture lacks ${expert.card.key}`);
      for (let k = 0; k < 64; k++) worstEmb = Math.max(worstEmb, Math.abs(emb[r * 64 + k] - ref.embedding[k]));
      // predictions in large units (Seebeck ~700 µV/K) are compared relative to their size, float32 having ~7 digits
      worstPred = Math.max(worstPred, Math.abs(pred[r] - ref.prediction) / Math.max(1, Math.abs(ref.prediction)));
    });
  }
  assert.ok(worstEmb < 1e-4, `worst embedding error ${worstEmb}`);
  assert.ok(worstPred < 1e-4, `worst prediction error ${worstPred}`);
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
