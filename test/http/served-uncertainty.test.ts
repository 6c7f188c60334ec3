import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/ml/backend.js';
import { loadAllShippedExperts } from '../../src/ml/experts/registry.js';
import { loadEnsemble } from '../../src/ml/mixture/ensemble.js';
import { membersOfBasis, predictCalibrated } from '../../src/ml/recipes/evaluate.js';
import { ROOT } from '../../src/paths.js';
import type { ShippedModelCard } from '../../src/services/shipped-models.js';
import { build } from '../helper.js';
import { POLYMORPHS } from '../support/polymorphs.js';

const cards = JSON.parse(readFileSync(join(ROOT, 'models', 'index.json'), 'utf8')) as ShippedModelCard[];
// A calibrated shipped model with structure members (the zoo writes them); the test needs one.
const card = cards.find((c) => c.bases?.structure && c.bases.composition && c.bound?.min === 0);

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
  });
});
