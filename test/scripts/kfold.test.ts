/**
 * The TypeScript KFold against scikit-learn's own folds (test/data/matbench/expt_gap_folds.json, written by
 * make_folds.py with Debian's scikit-learn 1.2.1 / numpy 1.24.2): Matbench v0.1's matbench_expt_gap folds and other
 * sizes and seeds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../src/paths.js';
import { kFold, matbenchFolds } from '../../scripts/lib/kfold.js';
import { NumpyRandomState } from '../../scripts/lib/numpy-random-state.js';

interface Case {
  n: number;
  n_splits: number;
  random_state: number;
  test: number[][];
}
const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'data', 'matbench', 'expt_gap_folds.json'), 'utf8')) as { expt_gap: Case; cases: Case[] };

test('matbench_expt_gap: the official v0.1 folds equal scikit-learn KFold(5, shuffle=True, random_state=18012019)', () => {
  const folds = matbenchFolds(fixture.expt_gap.n);
  assert.equal(folds.length, 5);
  folds.forEach((f, i) => {
    assert.deepEqual(f.test, fixture.expt_gap.test[i], `fold ${i} test rows`);
    const inTest = new Set(f.test);
    assert.deepEqual(f.train, Array.from({ length: fixture.expt_gap.n }, (_, r) => r).filter((r) => !inTest.has(r)), `fold ${i} train rows`);
  });
  assert.deepEqual(folds.map((f) => f.test.length), [921, 921, 921, 921, 920]);
});

test('KFold equals scikit-learn for other sizes and seeds (uneven folds, 2**32 - 1 seed)', () => {
  for (const c of fixture.cases) {
    assert.deepEqual(kFold(c.n, c.n_splits, c.random_state).map((f) => f.test), c.test, `n=${c.n} k=${c.n_splits} seed=${c.random_state}`);
  }
});

test('MT19937 init_genrand reproduces the reference output for seed 5489', () => {
  // The first outputs of genrand_int32 after init_genrand(5489), the reference implementation's default seed.
  const rs = new NumpyRandomState(5489);
  assert.deepEqual([rs.nextUint32(), rs.nextUint32(), rs.nextUint32()], [3499211612, 581869302, 3890346734]);
});

test('bounded draws stay in range and reject bad bounds', () => {
  const rs = new NumpyRandomState(1);
  for (const max of [0, 1, 2, 3, 4, 5, 1023, 1024, 0xffffffff]) {
    for (let i = 0; i < 50; i++) {
      const v = rs.interval(max);
      assert.ok(Number.isInteger(v) && v >= 0 && v <= max);
    }
  }
  assert.throws(() => rs.interval(-1), RangeError);
  assert.throws(() => new NumpyRandomState(2 ** 32), RangeError);
  assert.throws(() => kFold(3, 5, 0), RangeError);
});
