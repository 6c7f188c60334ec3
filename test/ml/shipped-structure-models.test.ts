import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { parsePoscar } from '../../src/chem/structure/index.js';
import { reducedFormula } from '../../src/chem/reduced-formula.js';
import { crystalGraph } from '../../src/ml/cgcnn/batching.js';
import { loadAllShippedExperts } from '../../src/ml/experts/registry.js';
import type { ExpertInput } from '../../src/ml/experts/expert-kind.js';
import { loadEnsemble } from '../../src/ml/mixture/ensemble.js';
import { predictMixture, type MixtureModel } from '../../src/ml/mixture/model.js';
import { memberOutput, physicalValues, type Basis } from '../../src/ml/mixture/output.js';
import { membersOfBasis, predictCalibrated } from '../../src/ml/recipes/evaluate.js';
import { readTaskRows, taskIndex } from '../../scripts/lib/tasks.js';
import type { ZooCard } from '../../scripts/lib/zoo-card.js';
import { ROOT } from '../../src/paths.js';
import { POLYMORPHS } from '../support/polymorphs.js';

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const experts = await loadAllShippedExperts();
const base = (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights;
const cards = JSON.parse(readFileSync(join(ROOT, 'models', 'index.json'), 'utf8')) as ZooCard[];
const load = (c: ZooCard): MixtureModel[] => loadEnsemble(new Uint8Array(readFileSync(join(ROOT, 'models', c.file))), base);
const structureCards = cards.filter((c) => c.bases?.structure);

/** What the service hands a structure-aware model for a structure: its graph and its formula. */
function structureInput(text: string): ExpertInput {
  const s = parsePoscar(text);
  const counts: Record<string, number> = {};
  for (const site of s.sites) counts[site.species[0].element] = (counts[site.species[0].element] ?? 0) + 1;
  return { graph: crystalGraph(s), formula: reducedFormula(counts) };
}

test('the polymorph fixtures are the crystals they claim: same formula, different structures', () => {
  for (const [formula, pair] of Object.entries(POLYMORPHS)) {
    const [a, b] = pair.map(structureInput);
    assert.equal(a.formula, formula);
    assert.equal(b.formula, formula);
    assert.notDeepEqual(a.graph!.nbrDist, b.graph!.nbrDist);
    // Nearest-neighbour distances of the first site, Å: C–C 1.54 (diamond) / 1.42 (graphite), Zn–S 2.34, Ti–O 1.95.
    assert.ok(a.graph!.nbrDist[0] > 1.3 && a.graph!.nbrDist[0] < 2.4 && b.graph!.nbrDist[0] > 1.3 && b.graph!.nbrDist[0] < 2.4, `${formula}: ${a.graph!.nbrDist[0]}, ${b.graph!.nbrDist[0]}`);
  }
});

test('every structure task ships one structure-aware model; formula-only tasks ship composition members only', () => {
  const tasks = taskIndex().filter((t) => t.available);
  assert.deepEqual(cards.map((c) => c.name).sort(), tasks.map((t) => t.key).sort());
  for (const t of tasks) {
    const card = cards.find((c) => c.name === t.key)!;
    assert.ok(card.bases?.composition, `${t.key}: composition members`);
    assert.equal(Boolean(card.bases.structure), t.has_structures, `${t.key}: structure members iff the task has structures`);
  }
});

test('polymorphs get different answers from the structure members of every structure-aware shipped model', () => {
  assert.ok(structureCards.length > 0, 'no shipped model has structure members');
  for (const card of structureCards) {
    const members = membersOfBasis(load(card), 'structure');
    assert.equal(members.length, card.bases.structure!.members.length);
    for (const [formula, pair] of Object.entries(POLYMORPHS)) {
      const [a, b] = predictCalibrated(members, card.bases.structure!.calibration, pair.map(structureInput));
      assert.ok(Math.abs(a.value - b.value) > 1e-6 * (Math.abs(a.value) + Math.abs(b.value) + 1e-9), `${card.name}: ${formula} polymorphs both ${a.value}`);
      // The composition members cannot tell them apart: that is what the structure members are for.
      const comp = predictCalibrated(membersOfBasis(load(card), 'composition'), card.bases.composition!.calibration, [{ formula }, { formula }]);
      assert.equal(comp[0].value, comp[1].value);
    }
  }
});

test('shipped models answer in physical units: no transformed unit, and members trained on ln(y) answer y', () => {
  for (const card of cards) {
    assert.doesNotMatch(card.unit, /\bln\b|log/i, `${card.name}: unit ${card.unit}`);
  }
  const lnCards = cards.filter((c) => c.paperUnits?.transform && c.paperUnits.transform !== 'none');
  assert.ok(lnCards.length > 0, 'no shipped model of a task stored as ln');
  for (const card of lnCards) {
    const rows = readTaskRows(card.name).slice(0, 40);
    const members = load(card);
    const inputs = rows.map((r) => ({ formula: r.formula }));
    for (const m of membersOfBasis(members, 'composition')) {
      const out = memberOutput(m);
      const raw = predictMixture(m, inputs);
      const phys = physicalValues(out, raw);
      if (out.transform === 'log') raw.forEach((r, i) => assert.ok(Math.abs(phys[i] - Math.exp(r)) <= 1e-9 * phys[i]));
      // In the physical unit the answers sit near the physical targets (the stored target is the transformed one).
      const inv = card.paperUnits.transform === 'log' ? Math.exp : Math.expm1;
      const ratio = rows.map((r, i) => (phys[i] + 1) / (inv(r.target) + 1)).sort((a, b) => a - b)[20];
      assert.ok(ratio > 0.5 && ratio < 2, `${card.name}: median physical/target ratio ${ratio}`);
    }
  }
});

test('non-negative properties: shipped answers and interval bounds stay ≥ 0 for any input', () => {
  const formulas = ['Lr', 'H', 'Fr2', 'U3Pu', 'Cs', 'Hg', 'Au', 'CsAu', 'Li3N', 'Xe', ...Array.from({ length: 30 }, (_, i) => `${['Li', 'Fe', 'Cu', 'Zn', 'Ni', 'Ag'][i % 6]}${1 + (i % 3)}${['Al', 'Sn', 'Sb', 'Bi', 'Ga'][i % 5]}`)];
  const structures = Object.values(POLYMORPHS).flat().map(structureInput);
  let checked = 0;
  for (const card of cards.filter((c) => c.bound?.min === 0)) {
    const members = load(card);
    for (const basis of ['structure', 'composition'] as Basis[]) {
      const b = card.bases[basis];
      if (!b) continue;
      const inputs = basis === 'structure' ? structures : formulas.map((formula) => ({ formula }));
      for (const v of predictCalibrated(membersOfBasis(members, basis), b.calibration, inputs)) {
        assert.ok(v.value >= 0 && v.interval[0] >= 0 && v.interval[0] <= v.value && v.value <= v.interval[1], `${card.name} ${basis}: ${JSON.stringify(v)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 0, 'no shipped model of a non-negative property');
});

test('every answer carries an interval at 90 % coverage whose width varies by material', () => {
  for (const card of structureCards) {
    const values = predictCalibrated(membersOfBasis(load(card), 'structure'), card.bases.structure!.calibration, Object.values(POLYMORPHS).flat().map(structureInput), 0.9);
    assert.ok(new Set(values.map((v) => (v.interval[1] - v.interval[0]).toPrecision(6))).size > 1, `${card.name}: one width for all`);
    assert.ok(values.every((v) => v.coverage === 0.9 && v.uncertainty > 0));
  }
});
