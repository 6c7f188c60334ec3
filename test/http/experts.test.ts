import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, SHARED_DIR } from '../../src/paths.js';
import { gunzipSync } from 'node:zlib';
import { build } from '../helper.js';

interface FixtureEntry {
  id: string;
  structure: { lattice: { matrix: number[][] }; sites: { species: { element: string; occu: number }[]; abc: number[] }[] };
  experts: Record<string, { embedding: number[]; prediction: number }>;
}
const fixtures = JSON.parse(readFileSync(join(SHARED_DIR, 'fixtures', 'cgcnn_reference.json'), 'utf8')) as FixtureEntry[];
const cards = JSON.parse(readFileSync(join(SHARED_DIR, 'data', 'experts', 'cgcnn', 'experts.json'), 'utf8')) as { key: string; unit: string }[];
const compositionCards = JSON.parse(readFileSync(join(ROOT, 'experts', 'composition', 'experts.json'), 'utf8')) as { key: string; unit: string; val_mae: number; source: { name: string } }[];

test('experts over HTTP', async (t) => {
  const app = await build(t);

  await t.test('GET /v1/experts lists the 18 shipped CGCNN experts, seeded with their sha256', async () => {
    const all = (await app.inject('/v1/experts')).json();
    assert.equal(all.total, 18 + compositionCards.length);
    const res = await app.inject('/v1/experts?kind=cgcnn');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.total, 18);
    assert.deepEqual(body.items.map((e: { key: string }) => e.key).sort(), cards.map((c) => c.key).sort());
    for (const e of body.items) {
      assert.equal(e.kind, 'cgcnn');
      assert.match(e.sha256, /^[0-9a-f]{64}$/);
      assert.equal(e.unit, cards.find((c) => c.key === e.key)?.unit);
    }
    const { rows } = await app.pg.query('SELECT count(*)::int AS n, sum(length(weights))::bigint AS bytes FROM experts');
    assert.equal(rows[0].n, 18 + compositionCards.length);
    assert.ok(Number(rows[0].bytes) > 18 * 390_000);
  });

  await t.test('seeding again is idempotent', async () => {
    assert.deepEqual(await app.experts.seed(), { inserted: 0, updated: 0, unchanged: 18 + compositionCards.length });
  });

  await t.test('GET /v1/experts/{key} returns the card; an unknown key is a 404 problem', async () => {
    const res = await app.inject('/v1/experts/mp_eform');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().card.target_normalizer.std > 0, true);
    const missing = await app.inject('/v1/experts/nope');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'expert_not_found');
  });

  await t.test('POST /v1/experts/{key}/predict equals the fixture\'s PyTorch predictions to 1e-4 for all 18 experts, in input order', async () => {
    for (const key of Object.keys(fixtures[0].experts)) {
      const res = await app.inject({ method: 'POST', url: `/v1/experts/${key}/predict`, payload: { inputs: fixtures.map((f) => ({ structure: f.structure })) } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.expert, key);
      assert.equal(body.predictions.length, fixtures.length);
      body.predictions.forEach((p: { value: number; nSites: number; composition: Record<string, number> }, i: number) => {
        const ref = fixtures[i].experts[key].prediction;
        assert.ok(Math.abs(p.value - ref) <= 1e-4 * Math.max(1, Math.abs(ref)), `${key} ${fixtures[i].id}: ${p.value} vs ${ref}`);
        assert.equal(p.nSites, fixtures[i].structure.sites.length);
        const total = Object.values(p.composition).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(total - 1) < 1e-9);
      });
    }
  });

  await t.test('bad inputs fail the request with problem+json naming each index and reason', async () => {
    const res = await app.inject({
      method: 'POST', url: '/v1/experts/mp_eform/predict',
      payload: { inputs: [{ structure: fixtures[0].structure }, { formula: 'GaAs' }, { cif: 'not a cif at all' }] },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const body = res.json();
    assert.equal(body.code, 'invalid_input');
    assert.deepEqual(body.errors.map((e: { index: number }) => e.index), [1, 2]);
    assert.equal(body.errors[0].code, 'structure_required');
    assert.match(body.errors[0].message, /needs a crystal structure/);
  });

  await t.test('two input kinds at once, or species without a POSCAR, are 422s that say what to send', async () => {
    const res = await app.inject({
      method: 'POST', url: '/v1/experts/mp_eform/predict',
      payload: { inputs: [{ formula: 'NaCl', cif: 'x' }, { formula: 'NaCl', species: ['Na', 'Cl'] }, { species: ['Na'] }] },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.deepEqual(res.json().errors.map((e: { code: string }) => e.code), ['input_kind', 'species_without_poscar', 'input_kind']);
    assert.match(res.json().errors[1].message, /goes only with "poscar"/);
  });

  await t.test('a VASP 4 POSCAR (no species line) predicts like its VASP 5 form once "species" names the blocks', async () => {
    const vasp5 = ['GaAs', '1.0', '0 2.825 2.825', '2.825 0 2.825', '2.825 2.825 0', 'Ga As', '1 1', 'Direct', '0 0 0', '0.25 0.25 0.25', ''].join('\n');
    const vasp4 = vasp5.replace('Ga As\n', '');
    const res = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [{ poscar: vasp5 }, { poscar: vasp4, species: ['Ga', 'As'] }] } });
    assert.equal(res.statusCode, 200, res.body);
    const [a, b] = res.json().predictions;
    assert.equal(b.formula, 'GaAs');
    assert.equal(b.value, a.value);
    const missing = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [{ poscar: vasp4 }] } });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json().errors[0].code, 'poscar_missing_species');
    assert.match(missing.json().errors[0].message, /send "species"/);
    const wrong = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [{ poscar: vasp4, species: ['Ga'] }] } });
    assert.equal(wrong.statusCode, 422);
    assert.equal(wrong.json().errors[0].code, 'poscar_species_mismatch');
  });

  await t.test('input count and shape limits are 400s', async () => {
    const none = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [] } });
    assert.equal(none.statusCode, 400);
    const three = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [{ formula: 'NaCl', cif: 'x', poscar: 'y' }] } });
    assert.equal(three.statusCode, 400);
    const unknown = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: [{ smiles: 'CCO' }] } });
    assert.equal(unknown.statusCode, 400);
    const many = await app.inject({ method: 'POST', url: '/v1/experts/mp_eform/predict', payload: { inputs: Array.from({ length: 1001 }, () => ({ formula: 'NaCl' })) } });
    assert.equal(many.statusCode, 400);
  });

  await t.test('composition experts are listed with kind composition and predict formulas near their card MAE', async () => {
    assert.ok(compositionCards.length >= 11, 'the composition zoo is shipped');
    const listed = (await app.inject('/v1/experts?kind=composition')).json();
    assert.deepEqual(listed.items.map((e: { key: string }) => e.key).sort(), compositionCards.map((c) => c.key).sort());
    const card = compositionCards.find((c) => c.source.name === 'mp_gap')!;
    // Every 500th row of the source set: mostly training rows, so the error must not exceed the held-out MAE by much.
    const lines = gunzipSync(readFileSync(join(SHARED_DIR, 'data', 'sources', 'mp_gap.csv.gz'))).toString('utf8').trim().split('\n').slice(1);
    const sample = lines.filter((_, i) => i % 500 === 0).map((l) => l.split(',')).map(([, formula, target]) => ({ formula, target: Number(target) }));
    const res = await app.inject({ method: 'POST', url: `/v1/experts/${card.key}/predict`, payload: { inputs: sample.map((r) => ({ formula: r.formula })) } });
    assert.equal(res.statusCode, 200, res.body);
    const preds = res.json().predictions as { value: number; formula: string }[];
    const mae = preds.reduce((a, p, i) => a + Math.abs(p.value - sample[i].target), 0) / preds.length;
    assert.ok(mae < 1.5 * card.val_mae, `MAE ${mae} on source rows vs card val MAE ${card.val_mae}`);
    // A structure is reduced to its composition.
    const viaStructure = await app.inject({ method: 'POST', url: `/v1/experts/${card.key}/predict`, payload: { inputs: [{ structure: fixtures[0].structure }, { formula: 'BN' }] } });
    assert.equal(viaStructure.statusCode, 200, viaStructure.body);
    const [a, b] = viaStructure.json().predictions;
    assert.equal(a.formula, 'BN');
    assert.ok(Math.abs(a.value - b.value) < 1e-5);
    const bad = await app.inject({ method: 'POST', url: `/v1/experts/${card.key}/predict`, payload: { inputs: [{ formula: 'GaAs' }, { formula: 'Xx2O' }] } });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json().errors[0].index, 1);
  });
});
