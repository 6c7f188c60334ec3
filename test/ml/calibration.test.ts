import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blendMembers, calibratedValues, calibrationBound, calibrationSpaces, conformalQuantile, fitCalibration, fitSpreadFloor, intervalCoverage, type CalibrationSet, type EnsembleMember } from '../../src/ml/uncertainty/calibration.js';
import { mulberry32 } from '../../src/util/random.js';

/** Standard normal draws (Box–Muller) from a seeded stream. */
function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/**
 * A heteroscedastic world: each input has a noise level σ_i; the truth is y = μ_i + σ_i ε, and three members of one
 * group scatter around μ_i with a spread proportional to σ_i.
 */
function world(n: number, seed: number): CalibrationSet {
  const rnd = mulberry32(seed);
  const targets: number[] = [];
  const raw: Float32Array[] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    const mu = 2 + 3 * rnd();
    const sigma = 0.05 + 0.5 * rnd();
    const y = mu + sigma * normal(rnd);
    targets.push(y);
    for (const r of raw) r[i] = mu + 0.6 * sigma * normal(rnd);
  }
  const members = raw.map(() => ({ transform: 'none' as const, min: null, group: 0 }));
  return { members, raw, targets };
}

test('the conformal multiplier is the ⌈(n+1)q⌉-th smallest score', () => {
  const scores = Array.from({ length: 19 }, (_, i) => i + 1);
  assert.equal(conformalQuantile(scores, 0.9), 18);
  assert.equal(conformalQuantile(scores, 0.5), 10);
  // Too few rows for the rank: the largest score.
  assert.equal(conformalQuantile([1, 2, 3], 0.9), 3);
  assert.throws(() => conformalQuantile(scores, 1), /coverage/);
});

test('intervals cover about the stated share of unseen targets, and are wider where members disagree', () => {
  const cal = fitCalibration([world(2000, 1)]);
  const fresh = world(4000, 2);
  for (const q of [0.5, 0.8, 0.9, 0.95]) {
    const values = calibratedValues(fresh, cal, q);
    const cov = intervalCoverage(values, fresh.targets);
    assert.ok(Math.abs(cov - q) < 0.03, `coverage ${cov} at ${q}`);
  }
  const values = calibratedValues(fresh, cal, 0.9);
  // Per-material: the width follows the members' spread.
  const spread = (i: number) => Math.abs(fresh.raw[0][i] - fresh.raw[1][i]) + Math.abs(fresh.raw[1][i] - fresh.raw[2][i]);
  const order = Array.from({ length: 4000 }, (_, i) => i).sort((a, b) => spread(a) - spread(b));
  const width = (rows: number[]) => rows.reduce((a, i) => a + values[i].interval[1] - values[i].interval[0], 0) / rows.length;
  assert.ok(width(order.slice(-1000)) > 2 * width(order.slice(0, 1000)));
  for (const v of values) assert.ok(v.interval[0] <= v.value && v.value <= v.interval[1]);
  // `uncertainty` is the calibrated standard deviation: close to the 68 % half-width, below the 90 % one.
  assert.ok(values.every((v) => v.uncertainty > 0 && v.uncertainty < (v.interval[1] - v.interval[0]) / 2));
});

test('members that always agree still get an interval: the spread floor s0 is fitted', () => {
  const set = world(500, 3);
  const same: CalibrationSet = { ...set, raw: [set.raw[0], set.raw[0], set.raw[0]] };
  const cal = fitCalibration([same]);
  assert.ok(cal.s0 > 0);
  const values = calibratedValues(same, cal, 0.9);
  assert.ok(values.every((v) => v.interval[1] > v.interval[0]));
  const cov = intervalCoverage(values, same.targets);
  assert.ok(cov > 0.85 && cov < 0.95, `coverage ${cov}`);
  // With informative spreads the floor is small against them.
  assert.ok(fitSpreadFloor([1, -2, 0.5, 3, -0.2], [1, 2, 0.5, 3, 0.2]) < 0.1);
});

/** Members trained on ln(y) that agree with each other, on targets spread over three decades with 10 % noise. */
function decades(n: number, seed: number, noise: (y: number, rnd: () => number) => number): CalibrationSet {
  const rnd = mulberry32(seed);
  const targets: number[] = [];
  const raw = [new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    const y = Math.exp(7 * rnd());
    targets.push(noise(y, rnd));
    raw[0][i] = Math.log(y);
    raw[1][i] = Math.log(y) + 0.01 * normal(rnd);
  }
  return { members: raw.map(() => ({ transform: 'log' as const, min: 0, group: 0 })), raw, targets };
}

test('members trained on ln(y) with multiplicative errors: intervals are built in ln space, positive and multiplicative', () => {
  const relative = (y: number, rnd: () => number) => y * Math.exp(0.1 * normal(rnd));
  const cal = fitCalibration([decades(1500, 4, relative)]);
  assert.equal(cal.space, 'log');
  assert.deepEqual(cal.bound, { min: 0, method: 'log-transform' });
  const fresh = decades(2000, 5, relative);
  const values = calibratedValues(fresh, cal, 0.9);
  const cov = intervalCoverage(values, fresh.targets);
  assert.ok(Math.abs(cov - 0.9) < 0.03, `coverage ${cov}`);
  for (const v of values) {
    assert.ok(v.interval[0] > 0);
    // Symmetric in ln: value² = low · high.
    assert.ok(Math.abs(v.value ** 2 / (v.interval[0] * v.interval[1]) - 1) < 1e-9);
  }
});

test('members trained on ln(y) with additive errors near 0: intervals stay in physical units and narrow', () => {
  // Band-gap-like: values down to 1e-3 with errors of ±0.3 whatever the value; ln-space intervals would explode.
  const additive = (y: number, rnd: () => number) => Math.max(1e-4, y / 200 + 0.3 * normal(rnd));
  const shrink = (s: CalibrationSet): CalibrationSet => ({ ...s, raw: s.raw.map((r) => Float32Array.from(r, (z) => z - Math.log(200))) });
  const cal = fitCalibration([shrink(decades(1500, 6, additive))]);
  assert.equal(cal.space, 'none');
  assert.deepEqual(cal.bound, { min: 0, method: 'clamp' });
  const fresh = shrink(decades(2000, 7, additive));
  const values = calibratedValues(fresh, cal, 0.9);
  assert.ok(Math.abs(intervalCoverage(values, fresh.targets) - 0.9) < 0.03);
  assert.ok(values.every((v) => v.interval[1] - v.interval[0] < 2 && v.interval[0] >= 0));
});

test('splits pool into one calibration; each row is read with the members of its own group', () => {
  const a = world(800, 6);
  const b = world(800, 7);
  const regroup = (s: CalibrationSet, g: number): CalibrationSet => ({ ...s, members: s.members.map((m) => ({ ...m, group: g })) });
  const pooled = fitCalibration([regroup(a, 0), regroup(b, 1)]);
  assert.equal(pooled.scores.length, 1600);
  assert.equal(pooled.membersPerGroup, 3);
  // Two groups predicting the same inputs: the spread is pooled within groups, not across them.
  const both = { members: [...regroup(a, 0).members, ...regroup(a, 1).members], raw: [...a.raw, ...a.raw.map((r) => Float32Array.from(r, (x) => x + 10))] };
  const v = calibratedValues(both, pooled, 0.9);
  const v1 = calibratedValues(a, pooled, 0.9);
  assert.ok(Math.abs((v[0].interval[1] - v[0].interval[0]) - (v1[0].interval[1] - v1[0].interval[0])) < 1e-6);
});

test('weighted members (a blend of two groups of members): equal weights change nothing, weight 0 removes a member', () => {
  const w = world(400, 7);
  const cal = fitCalibration([w]);
  const plain = calibratedValues(w, cal, 0.9);
  const equal = calibratedValues({ ...w, members: w.members.map((m) => ({ ...m, weight: 0.25 })) }, cal, 0.9);
  equal.forEach((v, i) => {
    assert.ok(Math.abs(v.value - plain[i].value) < 1e-9);
    assert.ok(Math.abs(v.interval[0] - plain[i].interval[0]) < 1e-9 && Math.abs(v.interval[1] - plain[i].interval[1]) < 1e-9);
  });
  // A fourth member far off, with weight 0, is ignored; with weight, it pulls the centre by its share.
  const off = { members: [...w.members, { transform: 'none' as const, min: null, group: 0 }], raw: [...w.raw, Float32Array.from(w.raw[0], (x) => x + 10)], targets: w.targets };
  const ignored = calibratedValues({ ...off, members: off.members.map((m, j) => ({ ...m, weight: j < 3 ? 1 : 0 })) }, cal, 0.9);
  ignored.forEach((v, i) => assert.ok(Math.abs(v.value - plain[i].value) < 1e-9));
  // Not even read: a member without weight whose outputs have no value in the space.
  const unreadable = calibratedValues({ members: off.members.map((m, j) => ({ ...m, weight: j < 3 ? 1 : 0 })), raw: [...w.raw, new Float32Array(w.raw[0].length).fill(Number.NaN)] }, cal, 0.9);
  unreadable.forEach((v, i) => assert.ok(Math.abs(v.value - plain[i].value) < 1e-9));
  const pulled = calibratedValues({ ...off, members: off.members.map((m, j) => ({ ...m, weight: j < 3 ? 0.3 : 0.1 })) }, cal, 0.9);
  pulled.forEach((v, i) => {
    const mean3 = (w.raw[0][i] + w.raw[1][i] + w.raw[2][i]) / 3;
    assert.ok(Math.abs(v.value - (0.9 * mean3 + 0.1 * (w.raw[0][i] + 10))) < 1e-4);
    assert.ok(v.interval[1] - v.interval[0] > plain[i].interval[1] - plain[i].interval[0]); // the disagreement widens it
  });
  assert.throws(() => calibratedValues({ ...w, members: w.members.map((m) => ({ ...m, weight: 0 })) }, cal, 0.9), /weights/);
  // Fitting too: members without weight change neither the spaces tried, nor the bound, nor the calibration.
  const lnWorld = { ...w, members: w.members.map((m) => ({ ...m, transform: 'log' as const, min: 0 })) };
  const alone = fitCalibration([lnWorld]);
  const withUnread = fitCalibration([{
    members: blendMembers<EnsembleMember>(lnWorld.members, [{ transform: 'none' as const, min: null, group: 0 }], 1),
    raw: [...w.raw, new Float32Array(w.raw[0].length).fill(-1)], targets: w.targets,
  }]);
  // (The same up to rounding: weights of 1/3 against the unweighted sums.)
  assert.deepEqual({ ...withUnread, s0: 0, scores: [] }, { ...alone, s0: 0, scores: [] });
  const unread = blendMembers<EnsembleMember>(lnWorld.members, [{ transform: 'none' as const, min: null, group: 0 }], 1);
  assert.deepEqual(calibrationSpaces(unread), ['none', 'log']);
  assert.deepEqual(calibrationBound(unread, 'log'), { min: 0, method: 'log-transform' });
  assert.ok(Math.abs(withUnread.s0 / alone.s0 - 1) < 1e-9);
  withUnread.scores.forEach((x, i) => assert.ok(Math.abs(x - alone.scores[i]) <= 1e-9 * alone.scores[i]));
  assert.equal(withUnread.membersPerGroup, 3);
});
