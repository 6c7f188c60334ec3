import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/ml/backend.js';
import { loadAllShippedExperts } from '../../src/ml/experts/registry.js';
import { loadEnsemble } from '../../src/ml/mixture/ensemble.js';
import { memberRawOutputs, membersOfBasis, predictCalibrated } from '../../src/ml/recipes/evaluate.js';
import { memberOutput } from '../../src/ml/mixture/output.js';
import { calibratedValues } from '../../src/ml/uncertainty/calibration.js';
import { crystalGraph } from '../../src/ml/cgcnn/batching.js';
import { resolveInput } from '../../src/chem/input.js';
import { ROOT } from '../../src/paths.js';
import type { ShippedModelCard } from '../../src/services/shipped-models.js';
import { build } from '../helper.js';
import { POLYMORPHS } from '../support/polymorphs.js';

const cards = JSON.parse(readFileSync(join(ROOT, 'models', 'index.json'), 'utf8')) as ShippedModelCard[];
// A calibrated shipped model with structure members (the zoo writes them) that answers crystals with a blend of both
// groups (zoo:blend); the test needs one.
const card = cards.find((c) => c.bases?.structure && c.bases.composition && c.bound?.min === 0 && c.blend && c.blend.structureWeight > 0 && c.blend.structureWeight < 1);

interface Prediction {
  value: number;
  unit: string;
  uncertainty: number;
  interval: [number, number];
  coverage: number;
  uncertaintyMethod: string;
  basis: string;
  experts: { key: string; kind: string; weight: number }[];
}

test('served predictions: physical values with a calibrated, per-material interval from the path that answered', async (t) => {
  assert.ok(card, 'models/index.json has no calibrated model with structure and composition members');
  const shipped: ShippedModelCard = card;
  const app = await build(t);
  const predict = async (payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: `/v1/models/${shipped.name}/predict`, payload });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().predictions as Prediction[];
  };

  await t.test('a structure is answered by the structure members, a formula by the composition members, each naming its experts', async () => {
    const [s, f] = await predict({ inputs: [{ poscar: POLYMORPHS.ZnS[0] }, { formula: 'ZnS' }] });
    assert.equal(s.basis, 'structure');
    assert.equal(f.basis, 'composition');
    assert.ok(s.experts.some((e) => e.kind === 'cgcnn'), JSON.stringify(s.experts));
    assert.ok(f.experts.every((e) => e.kind === 'composition'), JSON.stringify(f.experts));
    for (const p of [s, f]) {
      assert.equal(p.uncertaintyMethod, 'split-conformal-ensemble');
      assert.equal(p.coverage, 0.9);
      assert.equal(p.unit, shipped.unit);
      assert.ok(p.interval[0] <= p.value && p.value <= p.interval[1], JSON.stringify(p));
      assert.ok(p.uncertainty > 0 && p.value >= 0 && p.interval[0] >= 0, JSON.stringify(p));
    }
  });

  await t.test('polymorphs get different answers over HTTP', async () => {
    for (const [formula, pair] of Object.entries(POLYMORPHS)) {
      const [a, b] = await predict({ inputs: pair.map((poscar) => ({ poscar })) });
      assert.notEqual(a.value, b.value, `${formula}: both ${a.value}`);
    }
  });

  await t.test('the served answer is the calibrated ensemble of the stored members (compiled engine = reference forward pass)', async () => {
    await initBackend('wasm');
    const experts = await loadAllShippedExperts();
    const base = (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights;
    const members = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', shipped.file))), base);
    const formulas = ['GaAs', 'MoS2', 'NaCl', 'Fe2O3', 'SiC', 'WSe2'];
    const served = await predict({ inputs: formulas.map((formula) => ({ formula })) });
    const expected = predictCalibrated(membersOfBasis(members, 'composition'), shipped.bases!.composition!.calibration, formulas.map((formula) => ({ formula })));
    served.forEach((p, i) => {
      const tol = 1e-4 * (1 + Math.abs(expected[i].value));
      assert.ok(Math.abs(p.value - expected[i].value) <= tol, `${formulas[i]}: served ${p.value}, reference ${expected[i].value}`);
      assert.ok(Math.abs(p.interval[1] - expected[i].interval[1]) <= 10 * tol, `${formulas[i]}: ${p.interval} vs ${expected[i].interval}`);
    });
    // Per material: the widths differ between materials.
    const widths = new Set(served.map((p) => (p.interval[1] - p.interval[0]).toPrecision(6)));
    assert.ok(widths.size > 1, `every interval has the same width: ${[...widths]}`);
  });

  await t.test('a crystal is answered by the card\'s blend of both groups: served = their weighted, calibrated ensemble', async () => {
    await initBackend('wasm');
    const experts = await loadAllShippedExperts();
    const base = (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights;
    const members = loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', shipped.file))), base);
    const poscars = Object.values(POLYMORPHS).flat();
    const served = await predict({ inputs: poscars.map((poscar) => ({ poscar })) });
    const resolved = poscars.map((poscar) => resolveInput({ poscar }));
    const s = membersOfBasis(members, 'structure');
    const c = membersOfBasis(members, 'composition');
    const w = shipped.blend!.structureWeight;
    const expected = calibratedValues({
      members: [...s.map((m) => ({ ...memberOutput(m), weight: w / s.length })), ...c.map((m) => ({ ...memberOutput(m), weight: (1 - w) / c.length }))],
      raw: [...memberRawOutputs(s, resolved.map((r) => ({ formula: r.formula, graph: crystalGraph(r.structure!) }))), ...memberRawOutputs(c, resolved.map((r) => ({ formula: r.formula })))],
    }, shipped.blend!.calibration, 0.9);
    served.forEach((p, i) => {
      const tol = 1e-4 * (1 + Math.abs(expected[i].value));
      assert.equal(p.basis, 'structure');
      assert.ok(Math.abs(p.value - expected[i].value) <= tol, `${resolved[i].formula}: served ${p.value}, reference ${expected[i].value}`);
      assert.ok(Math.abs(p.interval[1] - expected[i].interval[1]) <= 10 * tol, `${resolved[i].formula}: ${p.interval} vs ${expected[i].interval}`);
      // Both groups' experts, by share: the gate weights sum to 1.
      assert.ok(p.experts.some((e) => e.kind === 'cgcnn') && p.experts.some((e) => e.kind === 'composition'), JSON.stringify(p.experts));
      assert.ok(Math.abs(p.experts.reduce((a, e) => a + e.weight, 0) - 1) < 1e-9);
    });
    // The blend is not either group alone.
    const alone = predictCalibrated(s, shipped.bases!.structure!.calibration, resolved.map((r) => ({ formula: r.formula, graph: crystalGraph(r.structure!) })));
    assert.ok(served.some((p, i) => Math.abs(p.value - alone[i].value) > 1e-3));
  });

  await t.test('a lower coverage gives a narrower interval around the same value; a coverage outside 0.5–0.99 is a 400', async () => {
    const [p90] = await predict({ inputs: [{ formula: 'GaN' }] });
    const [p50] = await predict({ inputs: [{ formula: 'GaN' }], coverage: 0.5 });
    assert.equal(p50.coverage, 0.5);
    assert.equal(p50.value, p90.value);
    assert.ok(p50.interval[1] - p50.interval[0] < p90.interval[1] - p90.interval[0]);
    const bad: unknown[] = [0, 1, 1.5, 0.2, '0.9'];
    for (const coverage of bad) {
      const payload = { model: shipped.name, inputs: [{ formula: 'GaN' }], coverage };
      const res = await app.inject({ method: 'POST', url: '/v1/predict', payload });
      assert.equal(res.statusCode, 400, `coverage ${coverage}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
  });

  await t.test('the model card shows each basis\'s calibration and the candidate recipes with their validation MAE', async () => {
    const c = (await app.inject(`/v1/models/${shipped.name}`)).json();
    assert.equal(c.metrics.calibration.structure.method, 'ensemble-spread-split-conformal/1');
    assert.ok(c.metrics.calibration.composition.calibrationRows > 0);
    assert.ok(!('scores' in c.metrics.calibration.structure));
    const split0 = c.metrics.recipes.structure.splits[0];
    assert.ok(split0.candidates.length >= 2 && split0.candidates.every((x: { valMae: number }) => x.valMae > 0));
    assert.ok(split0.candidates.some((x: { name: string }) => x.name === split0.chosen));
    assert.equal(c.metrics.blend.structureWeight, shipped.blend!.structureWeight);
    assert.deepEqual(c.metrics.blend.candidates.map((x: { structureWeight: number }) => x.structureWeight), shipped.blend!.candidates.map((x) => x.structureWeight));
    assert.ok(c.metrics.blend.calibration.calibrationRows > 0 && !('scores' in c.metrics.blend.calibration));
  });
});
