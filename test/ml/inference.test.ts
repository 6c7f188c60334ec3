import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { ROOT } from '../../src/paths.js';
import { ChemError } from '../../src/chem/types.js';
import { parsePymatgenStructure } from '../../src/chem/structure/index.js';
import { crystalGraph, type CrystalGraph } from '../../src/ml/cgcnn/batching.js';
import type { ExpertInput, ExpertWeights } from '../../src/ml/experts/expert-kind.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { loadEnsemble } from '../../src/ml/mixture/ensemble.js';
import { memberOutput } from '../../src/ml/mixture/output.js';
import { predictMixture, predictMixtureDetailed, type MixtureModel } from '../../src/ml/mixture/model.js';
import { trainMixture, type MixtureData } from '../../src/ml/mixture/trainer.js';
import { compileModel, releaseInferenceScratch, type CompiledModel } from '../../src/ml/inference/compiled-model.js';
import { readTaskRows, taskIndex } from '../../scripts/lib/tasks.js';
import { fixtureGraphs } from './fixture-graphs.js';

const backend = (process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm';
await initBackend(backend);
const cgcnn = await loadShippedExperts('cgcnn');
const composition = await loadShippedExperts('composition');
const pool: ExpertWeights[] = [...cgcnn, ...composition];
const baseWeights = (key: string, sha: string) => pool.find((e) => e.key === key && e.baseSha256 === sha)?.weights;

/**
 * |a − b| ≤ 1e-5·max(std, |b − mean|) for every member and input, in the units of the member's standardised head output
 * (a target with std 150 scales float32 noise of the head by 150); returns the largest such relative difference.
 */
function assertMatches(compiled: CompiledModel, members: readonly MixtureModel[], inputs: readonly ExpertInput[], label: string): number {
  const got = compiled.predict(inputs);
  assert.equal(got.length, members.length);
  let worst = 0;
  members.forEach((m, i) => {
    const ref = predictMixture(m, inputs);
    assert.equal(got[i].length, ref.length);
    ref.forEach((b, j) => {
      const d = Math.abs(got[i][j] - b) / Math.max(m.normalizer.std, Math.abs(b - m.normalizer.mean));
      assert.ok(d <= 1e-5, `${label}, member ${i}, input ${j}: ${got[i][j]} vs predictMixture ${b}`);
      worst = Math.max(worst, d);
    });
  });
  return worst;
}

/** Every 9th formula of every task file, and small task structures given without their formula. */
const formulas: ExpertInput[] = taskIndex()
  .filter((t) => t.available && t.file)
  .flatMap((t) => readTaskRows(t.key).filter((_, i) => i % 41 === 0))
  .map((r) => ({ formula: r.formula }));
const structureRows = readTaskRows('mp_phonons').filter((r) => (r.structure as { sites: unknown[] }).sites.length <= 20);
const taskGraphs: CrystalGraph[] = structureRows.slice(0, 60).map((r) => crystalGraph(parsePymatgenStructure(r.structure)));

test('every shipped model: the compiled ensemble gives predictMixture’s values for formulas and for structures', () => {
  const files = readdirSync(join(ROOT, 'models')).filter((f) => f.endsWith('.matmoe'));
  assert.ok(files.length >= 17, `${files.length} shipped models`);
  const inputs = [...formulas, ...taskGraphs.map((graph) => ({ graph }))];
  assert.ok(inputs.length > 300, `${inputs.length} inputs`);
  // Structure members read crystal graphs (with their formula, as the service sends them); a dozen keeps this quick.
  const structureInputs = structureRows.slice(0, 12).map((r, i) => ({ formula: r.formula, graph: taskGraphs[i] }));
  let structureGroups = 0;
  for (const file of files) {
    const all = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', file))), baseWeights);
    // Compiled per basis, as the inference threads compile them.
    for (const basis of ['composition', 'structure'] as const) {
      const members = all.filter((m) => memberOutput(m).basis === basis);
      if (members.length === 0) continue;
      const compiled = compileModel(members);
      assert.deepEqual(compiled.structureMembers, members.map(() => basis === 'structure'));
      const worst = assertMatches(compiled, members, basis === 'structure' ? structureInputs : inputs, `${file} (${basis})`);
      if (backend === 'wasm' && basis === 'composition') {
        // Same XNNPACK products in the same order, biases added after them and TF.js's own softplus kernels: the bits agree.
        assert.equal(worst, 0, `${file}: compiled and predictMixture differ by up to ${worst}`);
      }
      if (basis === 'structure') structureGroups++;
      compiled.dispose();
    }
  }
  assert.ok(structureGroups > 0, 'no shipped model has structure members');
});

test('shared prefixes: one frozen encoder per distinct base expert; an altered tensor gets its own nodes', () => {
  const members = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', 'expt_bandgap.matmoe'))), baseWeights);
  const bases = new Set(members.flatMap((m) => m.experts.map((e) => e.key)));
  const chains = members.reduce((a, m) => a + m.experts.length, 0);
  const compiled = compileModel(members);
  const byDepth = (c: CompiledModel, depth: number) => c.nodes.filter((n) => n.depth === depth);
  // standardise, encoder 0 and 1 are frozen (bit-identical across members): one node per base expert
  for (const depth of [1, 2, 3]) assert.equal(byDepth(compiled, depth).length, bases.size, `depth ${depth}`);
  // the fine-tuned last encoder layer: one per (member, expert)
  assert.equal(byDepth(compiled, 4).length, chains);
  assert.equal(byDepth(compiled, 1).reduce((a, n) => a + n.users, 0), chains);
  // every node runs once per chunk of inputs, whatever the number of members using it
  const before = compiled.evaluations;
  compiled.predict(formulas.slice(0, 100));
  assert.equal(compiled.evaluations - before, compiled.nodes.length);
  assert.ok(compiled.multiplyAdds.shared.perRow < compiled.multiplyAdds.unshared.perRow / 3);

  // The same expert key and baseSha256, one frozen weight one ulp away: its own chain from that layer on.
  const altered = structuredClone(members[0]);
  const expert = altered.experts[0];
  const w = expert.weights.get('encoder.1.weight')!;
  const bits = new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length);
  bits[17] += 1;
  const withAltered = compileModel([...members, altered]);
  assert.equal(byDepth(withAltered, 1).length, bases.size, 'input statistics still shared');
  assert.equal(byDepth(withAltered, 2).length, bases.size, 'encoder 0 still shared');
  assert.equal(byDepth(withAltered, 3).length, bases.size + 1, 'encoder 1 differs');
  // its second expert is an untouched copy of member 0's: that whole chain, fine-tuned layer included, is shared
  assert.equal(byDepth(withAltered, 4).length, chains + 1);
  assertMatches(withAltered, [...members, altered], formulas.slice(0, 80), 'altered member');
  const twice = compileModel([members[0], structuredClone(members[0])]);
  assert.equal(twice.nodes.length, 4 * members[0].experts.length, 'a copy of a member adds no node');
  twice.dispose();
  compiled.dispose();
  withAltered.dispose();
});

/** 24 small task crystals with a smooth synthetic target, in a fixed split (as test/ml/mixture-kinds.test.ts). */
function crystalData(): MixtureData {
  const inputs = taskGraphs.slice(0, 24).map((graph) => ({ graph }));
  const targets = inputs.map(({ graph }, i) => graph.atomicNumbers.reduce((a, b) => a + b, 0) / graph.atomicNumbers.length / 10 + (i % 3) * 0.05);
  const rows = inputs.map((_, i) => i);
  return { inputs, targets, split: { train: rows.slice(0, 16), val: rows.slice(16, 20), test: rows.slice(20) } };
}

const keys = (...k: string[]) => pool.filter((e) => k.includes(e.key));

test('CGCNN mixtures: members share the embedding and frozen convs; mixed CGCNN + composition; target BatchNorm shares nothing', async () => {
  const data = crystalData();
  const train = async (experts: string[], seed: number, extra: object = {}) =>
    (await trainMixture(data, { experts, k: 2, epochs: 3, batchSize: 8, seed, ...extra }, { experts: keys(...experts) })).model;
  const [a, b] = [await train(['mp_eform', 'mp_bandgap'], 1), await train(['mp_eform', 'mp_bandgap'], 2)];
  const mixed = await train(['mp_eform', 'comp_mp_e_form'], 3);
  const target = await train(['mp_eform', 'mp_bandgap'], 4, { frozenBatchNorm: 'target' });
  const inputs: ExpertInput[] = [...fixtureGraphs, ...taskGraphs].map((graph) => ({ graph }));
  // > 256 inputs: several chunks
  const many = Array.from({ length: 4 }, () => inputs).flat();

  const pair = compileModel([a, b]);
  assert.deepEqual(pair.structureMembers, [true, true]);
  const count = (c: CompiledModel, op: string, depth?: number) => c.nodes.filter((n) => n.op === op && (depth === undefined || n.depth === depth)).length;
  assert.equal(count(pair, 'atom-embedding'), 2);
  for (const depth of [2, 3, 4]) assert.equal(count(pair, 'conv', depth), 2, `frozen conv at depth ${depth}: one per base expert`);
  assert.equal(count(pair, 'conv', 5), 4, 'the fine-tuned last conv: one per (member, expert)');
  assert.equal(count(pair, 'pool'), 4);
  // edge products: 2 bases × 3 frozen convs + 4 fine-tuned ones, instead of 4 chains × 4 convs
  assert.equal(pair.multiplyAdds.shared.perEdgeRow * 16, pair.multiplyAdds.unshared.perEdgeRow * 10);
  assertMatches(pair, [a, b], many, 'two seeds');

  const all = compileModel([a, b, mixed, target]);
  assert.deepEqual(all.structureMembers, [true, true, true, true]);
  // `mixed` reuses a's mp_eform prefix; `target` re-estimated the frozen BatchNorm statistics, so only its embedding
  // layer (no BatchNorm) is shared and its convs are its own.
  assert.equal(count(all, 'atom-embedding'), 2);
  assert.equal(count(all, 'conv', 2), 4);
  assert.equal(count(all, 'standardize'), 1);
  assertMatches(all, [a, b, mixed, target], inputs, 'four members');
  const detailed = all.predictDetailed(inputs.slice(0, 30));
  [a, b, mixed, target].forEach((m, i) => {
    const ref = predictMixtureDetailed(m, inputs.slice(0, 30)).embeddings;
    ref.forEach((v, j) => assert.ok(Math.abs(detailed.embeddings[i][j] - v) <= 1e-5 * Math.max(1, Math.abs(v))));
  });

  // Plain-JS kernels (a thread without the wasm backend) agree too.
  const js = compileModel([a, mixed], { kernels: 'js' });
  assert.equal(js.kernels, 'js');
  assertMatches(js, [a, mixed], inputs, 'JS kernels');
  for (const c of [pair, all, js]) c.dispose();
});

test('inputs a member cannot read are refused as predictMixture refuses them; empty input; dispose', async () => {
  const data = crystalData();
  const model = (await trainMixture(data, { experts: ['mp_eform', 'comp_mp_e_form'], k: 2, epochs: 1, batchSize: 8 }, { experts: keys('mp_eform', 'comp_mp_e_form') })).model;
  const compiled = compileModel([model]);
  assert.throws(() => compiled.predict([{ formula: 'NaCl' }]), (e: unknown) => e instanceof ChemError && e.code === 'structure_required');
  assert.throws(() => predictMixture(model, [{ formula: 'NaCl' }]), (e: unknown) => e instanceof ChemError && e.code === 'structure_required');
  // The shipped model's composition members (its structure members need crystals, refused above).
  const shipped = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', 'expt_eform.matmoe'))), baseWeights)
    .filter((m) => memberOutput(m).basis === 'composition');
  assert.ok(shipped.length > 0);
  const formulaModel = compileModel(shipped);
  for (const bad of ['Xx2O', '', 'Fe2O-3']) {
    let expected: unknown;
    try {
      predictMixture(shipped[0], [{ formula: bad }]);
    } catch (e) {
      expected = e;
    }
    assert.ok(expected instanceof ChemError, `predictMixture refuses "${bad}"`);
    assert.throws(() => formulaModel.predict([{ formula: bad }]), (e: unknown) => e instanceof ChemError && e.code === expected.code);
  }
  assert.deepEqual(formulaModel.predict([]), shipped.map(() => new Float32Array(0)));
  // Two models of one thread share scratch buffers: interleaved calls, and calls after freeing them, give the same values.
  const graphsIn = taskGraphs.slice(0, 40).map((graph) => ({ graph }));
  const first = [compiled.predict(graphsIn), formulaModel.predict(formulas.slice(0, 300))];
  releaseInferenceScratch();
  assert.deepEqual(formulaModel.predict(formulas.slice(0, 300)), first[1]);
  assert.deepEqual(compiled.predict(graphsIn), first[0]);
  assert.deepEqual(formulaModel.predict(formulas.slice(0, 300)), first[1]);
  formulaModel.dispose();
  assert.throws(() => formulaModel.predict([{ formula: 'NaCl' }]), /disposed/);
  compiled.dispose();
});
