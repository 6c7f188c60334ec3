/**
 * Training data of the matbench_expt_gap benchmark on the real files: the 'merged' variant never trains on a
 * composition of the fold's test rows, the 'matbench' variant is exactly the official training folds, and validation
 * compositions never straddle the split.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFormula } from '../../src/chem/formula.js';
import { loadExptGaps } from '../../scripts/lib/expt-gap-stats.js';
import { matbenchFolds } from '../../scripts/lib/kfold.js';
import { assertNoTestComposition, foldData, holdOutCompositions, matbenchGapRows } from '../../scripts/lib/matbench-expt-gap.js';

const merged = loadExptGaps();
const rows = matbenchGapRows(merged);
const folds = matbenchFolds(rows.length);

test('merged variant: no test-fold composition (key or reduced formula) is in any fold\'s training data', () => {
  assert.equal(rows.length, 4604);
  for (const [f, fold] of folds.entries()) {
    const d = foldData(rows, merged, fold, 'merged');
    const testKeys = new Set(d.test.map((r) => r.key));
    const testReduced = new Set(d.test.map((r) => parseFormula(r.formula).reducedFormula));
    assert.equal(d.train.filter((r) => testKeys.has(r.key) || testReduced.has(parseFormula(r.formula).reducedFormula)).length, 0, `fold ${f}`);
    assert.equal(d.train.length + d.excluded, merged.records.length);
    assert.ok(d.excluded > 0.9 * d.test.length, `fold ${f}: ${d.excluded} excluded for ${d.test.length} test rows`);
    // The merged data adds what Matbench dropped (compositions whose reports span > 0.1 eV), e.g. GaAs.
    assert.ok(d.train.some((r) => r.formula === 'GaAs'), `fold ${f} trains on GaAs`);
  }
});

test('matbench variant: the training and test rows are the official folds, in order', () => {
  for (const fold of folds) {
    const d = foldData(rows, merged, fold, 'matbench');
    assert.deepEqual(d.test.map((r) => r.row), fold.test);
    assert.deepEqual(d.train.map((r) => (r as { row?: number }).row), fold.train);
  }
});

test('a training row with a test composition is refused', () => {
  const leak = { train: [{ formula: 'Se0.5Te0.5', gap: 1, key: 'TeSe' }], test: [{ formula: 'TeSe', gap: 1, key: 'TeSe', row: 0, mbid: 'x' }] };
  assert.throws(() => assertNoTestComposition(leak), /composition of a test row/);
  assert.throws(() => assertNoTestComposition({ train: [{ formula: 'Fe4O6', gap: 2, key: 'unrelated' }], test: [{ formula: 'Fe2O3', gap: 2, key: 'Fe2O3', row: 0, mbid: 'x' }] }));
});

test('validation holds out whole compositions, about 10 %, the same for the same seed', () => {
  const d = foldData(rows, merged, folds[0], 'matbench');
  const a = holdOutCompositions(d.train, 0.1, 7);
  assert.deepEqual(a, holdOutCompositions(d.train, 0.1, 7));
  assert.notDeepEqual(a.val, holdOutCompositions(d.train, 0.1, 8).val);
  assert.equal(a.train.length + a.val.length, d.train.length);
  const valKeys = new Set(a.val.map((i) => d.train[i].key));
  assert.equal(a.train.filter((i) => valKeys.has(d.train[i].key)).length, 0);
  const keys = new Set(d.train.map((r) => r.key)).size;
  assert.equal(valKeys.size, Math.round(keys * 0.1));
});
