import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../src/util/random.js';
import { checkExplicitSplit, randomSplit, seededPermutation, SplitError, splitContentHash } from '../../src/services/splits.js';

const code = (c: string) => (e: unknown) => e instanceof SplitError && e.code === c;

describe('seeded permutation', () => {
  test('mulberry32 and the Fisher–Yates permutation match an independent Python implementation (32-bit arithmetic)', () => {
    // Reference values from a separate Python re-implementation of mulberry32 + Durstenfeld shuffle (see services/splits.ts).
    const g0 = mulberry32(0);
    assert.deepEqual([g0(), g0(), g0()], [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]);
    const g42 = mulberry32(42);
    assert.deepEqual([g42(), g42(), g42()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    assert.deepEqual(seededPermutation(10, 0), [3, 8, 6, 4, 5, 9, 7, 1, 0, 2]);
    assert.deepEqual(seededPermutation(10, 7), [6, 5, 8, 1, 2, 3, 4, 7, 9, 0]);
  });

  test('the generator is uniform on [0, 1) (chi-square over 20 bins) and seeds give different streams', () => {
    const g = mulberry32(123);
    const n = 100_000;
    const bins = new Array<number>(20).fill(0);
    for (let k = 0; k < n; k++) bins[Math.floor(g() * 20)]++;
    const expected = n / 20;
    const chi2 = bins.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: P(chi2 > 43.8) = 0.001; a biased or constant generator lands far above.
    assert.ok(chi2 < 43.8, `chi-square ${chi2.toFixed(1)} over bins ${bins.join(',')}`);
    const a = mulberry32(1);
    const b = mulberry32(2);
    assert.notDeepEqual(Array.from({ length: 8 }, a), Array.from({ length: 8 }, b));
  });
});

describe('randomSplit', () => {
  test('sizes are Python int(f·n) truncations; parts are disjoint, in range and deterministic per seed', () => {
    // int(0.7*n), int(0.15*n) as computed by Python for these n; 2481 and 522 are the paper's expt_bandgap and jarvis_2d_gap_opt.
    const expected: [number, number, number][] = [[20, 14, 3], [70, 49, 10], [522, 365, 78], [1265, 885, 189], [2481, 1736, 372]];
    for (const [n, train, other] of expected) {
      const s = randomSplit(n, 0);
      assert.deepEqual([s.train.length, s.val.length, s.test.length], [train, other, other], `n = ${n}`);
      const all = [...s.train, ...s.val, ...s.test];
      assert.equal(new Set(all).size, all.length);
      assert.ok(all.every((i) => Number.isInteger(i) && i >= 0 && i < n));
    }
    assert.deepEqual(randomSplit(100, 5), randomSplit(100, 5));
    assert.notDeepEqual(randomSplit(100, 5).train, randomSplit(100, 6).train);
  });

  test('custom fractions; invalid fractions have their own codes', () => {
    const s = randomSplit(10, 1, [0.5, 0.2, 0.3]);
    assert.deepEqual([s.train.length, s.val.length, s.test.length], [5, 2, 3]);
    assert.throws(() => randomSplit(10, 0, [0.7, 0, 0.3]), code('split_fraction_not_positive'));
    assert.throws(() => randomSplit(10, 0, [0.7, -0.1, 0.3]), code('split_fraction_not_positive'));
    assert.throws(() => randomSplit(10, 0, [0.7, 0.2, 0.2]), code('split_fractions_exceed_one'));
    assert.throws(() => randomSplit(10, 0, [0.7, 0.3]), code('split_fractions_invalid'));
    assert.throws(() => randomSplit(1, 0), code('split_train_empty'));
  });
});

describe('explicit splits', () => {
  test('valid lists pass unchanged; each violation has its own code', () => {
    assert.deepEqual(checkExplicitSplit(5, { train: [4, 0], val: [1], test: [] }), { train: [4, 0], val: [1], test: [] });
    assert.throws(() => checkExplicitSplit(5, { train: [], val: [1], test: [2] }), code('split_train_empty'));
    assert.throws(() => checkExplicitSplit(5, { train: [0, 5], val: [], test: [] }), code('split_index_out_of_range'));
    assert.throws(() => checkExplicitSplit(5, { train: [0], val: [-1], test: [] }), code('split_index_out_of_range'));
    assert.throws(() => checkExplicitSplit(5, { train: [0, 1.5], val: [], test: [] }), code('split_index_not_integer'));
    assert.throws(() => checkExplicitSplit(5, { train: [0, 1], val: [2], test: [1] }), code('split_overlap'));
    assert.throws(() => checkExplicitSplit(5, { train: [0, 0], val: [], test: [] }), code('split_index_duplicate'));
  });

  test('the content hash depends on the lists and their order only', () => {
    const a = splitContentHash({ train: [0, 1], val: [2], test: [3] });
    assert.equal(a, splitContentHash({ train: [0, 1], val: [2], test: [3] }));
    assert.notEqual(a, splitContentHash({ train: [1, 0], val: [2], test: [3] }));
    assert.notEqual(a, splitContentHash({ train: [0, 1], val: [], test: [2, 3] }));
    assert.notEqual(splitContentHash({ train: [1], val: [23], test: [] }), splitContentHash({ train: [1, 2], val: [3], test: [] }));
  });
});
