import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compositionFeatureMatrix,
  compositionFeatures,
  featureCount,
  featureNames,
  FEATURIZER_VERSION,
  STATISTICS,
} from '../../src/chem/descriptors.js';
import { MAGPIE_PROPERTIES, parseMagpieCsv } from '../../src/chem/magpie.js';
import { ChemError } from '../../src/chem/types.js';
import { ROOT } from '../../src/paths.js';

const names = featureNames();

function feature(v: Float32Array, name: string): number {
  const k = names.indexOf(name);
  assert.ok(k >= 0, `no feature ${name}`);
  return v[k];
}

function close(actual: number, expected: number, label: string): void {
  // float32 storage: ~7 significant digits
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${label}: ${actual} vs ${expected}`);
}

function checkStats(v: Float32Array, prop: string, expected: Record<(typeof STATISTICS)[number], number>): void {
  for (const stat of STATISTICS) close(feature(v, `${stat}:${prop}`), expected[stat], `${stat}:${prop}`);
}

test('featurizer version, names and count agree', () => {
  assert.match(FEATURIZER_VERSION, /\S/);
  assert.equal(featureCount, 103 + 63 * 7);
  assert.equal(names.length, featureCount);
  assert.equal(new Set(names).size, featureCount);
  assert.equal(names[0], 'frac:H');
  assert.equal(names[102], 'frac:Lr');
  assert.equal(compositionFeatures({ Fe: 2, O: 3 }).length, featureCount);
});

// Expected numbers below are worked by hand from the magpie.csv rows:
// Fe: AtomicWeight 55.845, Electronegativity 1.83, MeltingT 1811; O: 15.9994, 3.44, 54.8.
test('Fe2O3 from the CSV rows (fractions 0.4 / 0.6)', () => {
  const v = compositionFeatures({ Fe: 2, O: 3 });
  close(feature(v, 'frac:Fe'), 0.4, 'frac:Fe');
  close(feature(v, 'frac:O'), 0.6, 'frac:O');
  assert.equal(feature(v, 'frac:H'), 0);
  // mean 0.4·55.845 + 0.6·15.9994; avg_dev 0.4·|55.845 − 31.93764| + 0.6·|15.9994 − 31.93764|; mode = O's value.
  checkStats(v, 'AtomicWeight', { mean: 31.93764, avg_dev: 19.125888, minimum: 15.9994, maximum: 55.845, range: 39.8456, mode: 15.9994, missing: 0 });
  checkStats(v, 'Electronegativity', { mean: 2.796, avg_dev: 0.7728, minimum: 1.83, maximum: 3.44, range: 1.61, mode: 3.44, missing: 0 });
  checkStats(v, 'MeltingT', { mean: 757.28, avg_dev: 842.976, minimum: 54.8, maximum: 1811, range: 1756.2, mode: 54.8, missing: 0 });
});

// Na: AtomicWeight 22.98976928, Electronegativity 0.93, Column 1; Cl: 35.453, 3.16, 17.
test('NaCl from the CSV rows: equal fractions, so mode is the smaller value (matminer)', () => {
  const v = compositionFeatures({ Na: 1, Cl: 1 });
  checkStats(v, 'AtomicWeight', {
    mean: 29.22138464,
    avg_dev: 6.23161536,
    minimum: 22.98976928,
    maximum: 35.453,
    range: 12.46323072,
    mode: 22.98976928,
    missing: 0,
  });
  checkStats(v, 'Electronegativity', { mean: 2.045, avg_dev: 1.115, minimum: 0.93, maximum: 3.16, range: 2.23, mode: 0.93, missing: 0 });
  checkStats(v, 'Column', { mean: 9, avg_dev: 8, minimum: 1, maximum: 17, range: 16, mode: 1, missing: 0 });
  // Ties are judged like np.isclose (rtol 1e-5): a 1e-7 difference in amount is still a tie, 1e-3 is not.
  assert.equal(feature(compositionFeatures({ Na: 1, Cl: 1 + 1e-7 }), 'mode:Column'), 1);
  assert.equal(feature(compositionFeatures({ Na: 1, Cl: 1 + 1e-3 }), 'mode:Column'), 17);
});

test('amounts and fractions give the same vector; zero amounts are ignored', () => {
  const a = compositionFeatures({ Fe: 2, O: 3 });
  const b = compositionFeatures({ O: 0.6, Fe: 0.4 });
  const c = compositionFeatures({ Fe: 4, O: 6, Na: 0 });
  for (let k = 0; k < featureCount; k++) {
    close(b[k], a[k], names[k]);
    close(c[k], a[k], names[k]);
  }
  const m = compositionFeatureMatrix([{ Na: 1, Cl: 1 }, { Fe: 2, O: 3 }]);
  assert.equal(m.length, 2 * featureCount);
  assert.deepEqual(m.subarray(featureCount), a);
});

test('missing element data is imputed with the column mean and reported, never read as 0', () => {
  // H has no SecondIonizationEnergy in Magpie. The column mean is recomputed here straight from the CSV text.
  const rows = readFileSync(join(ROOT, 'assets', 'elements', 'magpie.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = rows[0].indexOf('SecondIonizationEnergy');
  const present = rows.slice(1).map((r) => r[col]).filter((c) => c !== '').map(Number);
  assert.equal(rows[1][1], 'H');
  assert.equal(rows[1][col], '');
  const colMean = present.reduce((s, x) => s + x, 0) / present.length;
  const o = 35.1211;
  const v = compositionFeatures({ H: 2, O: 1 });
  const mean = (2 / 3) * colMean + (1 / 3) * o;
  checkStats(v, 'SecondIonizationEnergy', {
    mean,
    avg_dev: (2 / 3) * Math.abs(colMean - mean) + (1 / 3) * Math.abs(o - mean),
    minimum: Math.min(colMean, o),
    maximum: Math.max(colMean, o),
    range: Math.abs(o - colMean),
    mode: colMean,
    missing: 2 / 3,
  });
  assert.notEqual(feature(v, 'minimum:SecondIonizationEnergy'), 0);
  // Properties H does have are untouched.
  assert.equal(feature(v, 'missing:Electronegativity'), 0);
  close(feature(v, 'minimum:Electronegativity'), 2.2, 'minimum:Electronegativity');
  // Pure Tc lacks HeatCapacityMass: everything imputed, and the indicator says so.
  const tc = compositionFeatures({ Tc: 1 });
  assert.equal(feature(tc, 'missing:HeatCapacityMass'), 1);
  assert.ok(feature(tc, 'mean:HeatCapacityMass') > 0);
});

test('bad compositions are ChemErrors with stable codes', () => {
  const code = (c: Record<string, number>) => {
    try {
      compositionFeatures(c);
    } catch (e) {
      assert.ok(e instanceof ChemError);
      return e.code;
    }
    return 'no error';
  };
  assert.equal(code({ Og: 1, O: 2 }), 'descriptor_element_out_of_range');
  assert.equal(code({ Rf: 1 }), 'descriptor_element_out_of_range');
  assert.equal(code({ Xx: 1 }), 'descriptor_unknown_element');
  assert.equal(code({ Fe: -1, O: 2 }), 'descriptor_invalid_amount');
  assert.equal(code({ Fe: Number.NaN }), 'descriptor_invalid_amount');
  assert.equal(code({}), 'descriptor_empty_composition');
  assert.equal(code({ Fe: 0 }), 'descriptor_empty_composition');
  assert.equal(code({ Lr: 1 }), 'no error');
  assert.match(
    (() => {
      try {
        compositionFeatures({ Og: 1 });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    /Og.*118.*103/,
  );
});

test('the Magpie table is pinned: a changed table is refused, the header must match', () => {
  const text = readFileSync(join(ROOT, 'assets', 'elements', 'magpie.csv'), 'utf8');
  assert.doesNotThrow(() => parseMagpieCsv(text));
  assert.doesNotThrow(() => parseMagpieCsv(text.replace(/\n/g, '\r\n')));
  assert.throws(() => parseMagpieCsv(text.replace('55.845', '55.846')), /sha256/);
  assert.throws(() => parseMagpieCsv(text.replace('AtomicWeight', 'AtomicMass'), null), /header/);
  assert.equal(MAGPIE_PROPERTIES.length, 63);
});
