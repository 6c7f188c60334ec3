import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { XMLValidator } from 'fast-xml-parser';
import { ROOT } from '../../src/paths.js';
import { seedShippedModels } from '../../src/services/shipped-models.js';
import { readTaskRows, readSplit, taskIndex } from '../../scripts/lib/tasks.js';
import { build } from '../helper.js';

const index = JSON.parse(readFileSync(join(ROOT, 'models', 'index.json'), 'utf8')) as { name: string; metrics: { testMae: number; members: number } }[];

test('shipped models are seeded at start and answer formula-only requests', async (t) => {
  const app = await build(t);

  await t.test('a fresh start answers POST /v1/predict {"model": "expt_bandgap", "inputs": [{"formula": "GaAs"}]}', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }] } });
    assert.equal(res.statusCode, 200, res.body);
    const [p] = res.json().predictions;
    assert.equal(p.unit, 'eV');
    assert.equal(p.formula, 'GaAs');
    assert.deepEqual(p.composition, { Ga: 0.5, As: 0.5 });
    assert.ok(p.value > 0 && p.value < 4, `GaAs gap ${p.value} eV`);
    assert.equal(p.uncertaintyMethod, 'split-conformal-ensemble');
    assert.equal(p.basis, 'composition');
    assert.equal(p.coverage, 0.9);
    assert.ok(p.uncertainty > 0 && p.uncertainty < 1.5);
    assert.ok(p.interval[0] < p.value && p.value < p.interval[1], JSON.stringify(p));
    assert.ok(p.experts.length >= 2);
    assert.deepEqual(p.warnings, []);
  });

  await t.test('every available task has a shipped model listed with its card and well-formed plots', async () => {
    const list = (await app.inject('/v1/models?limit=100')).json();
    const names = list.items.filter((m: { shipped: boolean }) => m.shipped).map((m: { name: string }) => m.name).sort();
    assert.deepEqual(names, index.map((c) => c.name).sort());
    assert.deepEqual(names, taskIndex().filter((t) => t.available).map((t) => t.key).sort());
    const card = (await app.inject('/v1/models/expt_bandgap')).json();
    // zoo:expt-gap's split ensemble: members per split × splits, as its card in models/index.json says.
    assert.equal(card.metrics.members, index.find((c) => c.name === 'expt_bandgap')!.metrics.members);
    assert.ok(card.metrics.members >= 5);
    assert.deepEqual(card.inputKinds, ['formula', 'structure', 'cif', 'poscar']);
    assert.ok(!('parity' in card.metrics));
    for (const plot of ['parity.svg', 'gates.svg']) {
      const svg = await app.inject(`/v1/models/expt_bandgap/${plot}`);
      assert.equal(svg.statusCode, 200);
      assert.equal(XMLValidator.validate(svg.body), true);
    }
  });

  await t.test('the shipped expt_bandgap model reproduces its recorded test MAE on the seed-0 test split (served path)', async () => {
    const rows = readTaskRows('expt_bandgap');
    const test = readSplit('expt_bandgap', 0).test;
    const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: test.map((i) => ({ formula: rows[i].formula })) } });
    assert.equal(res.statusCode, 200);
    const preds = res.json().predictions as { value: number }[];
    const mae = preds.reduce((a, p, j) => a + Math.abs(p.value - rows[test[j]].target), 0) / preds.length;
    // The mean of every split's members, most of which trained on these rows: no worse than a split's ensemble on its own test set.
    const recorded = index.find((c) => c.name === 'expt_bandgap')!.metrics.testMae;
    assert.ok(mae <= recorded * 1.05, `ensemble MAE ${mae} vs recorded single-split test MAE ${recorded}`);
  });

  await t.test('an element never seen in training is flagged', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'Og2O' }] } });
    // Z = 118 is beyond the descriptor table: refused with a clear reason rather than extrapolated.
    assert.equal(res.statusCode, 422);
    const ok = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'mp_phonons', inputs: [{ formula: 'PuO2' }] } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(ok.json().predictions[0].warnings.join(' '), /Pu never appeared/);
  });
});

test('seeding shipped models is idempotent and takes a changed card even when the weights are unchanged', async (t) => {
  const app = await build(t);
  const dir = mkdtempSync(join(tmpdir(), 'matmoe-shipped-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const card = index.find((c) => c.name === 'jarvis_2d_gap_opt')!;
  copyFileSync(join(ROOT, 'models', `${card.name}.matmoe`), join(dir, `${card.name}.matmoe`));
  writeFileSync(join(dir, 'index.json'), JSON.stringify([card]));
  // build() seeded every shipped model already.
  assert.deepEqual(await seedShippedModels(app.pg, dir), { inserted: 0, updated: 0, unchanged: 1 });
  const before = (await app.inject(`/v1/models/${card.name}`)).json();
  writeFileSync(join(dir, 'index.json'), JSON.stringify([{ ...card, property: '2D band gap, renamed' }]));
  assert.deepEqual(await seedShippedModels(app.pg, dir), { inserted: 0, updated: 1, unchanged: 0 });
  const after = (await app.inject(`/v1/models/${card.name}`)).json();
  assert.equal(after.property, '2D band gap, renamed');
  assert.equal(after.checksum, before.checksum);
  assert.equal(after.version, before.version + 1);
  assert.deepEqual(await seedShippedModels(app.pg, dir), { inserted: 0, updated: 0, unchanged: 1 });
});
