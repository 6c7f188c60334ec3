import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianCentres, gaussianExpand } from '../../src/chem/gaussian.js';

test('gaussian expansion: 41 centres 0, 0.2, …, 8.0 and exp(-(d-μ)²/0.2²)', () => {
  const mu = gaussianCentres();
  assert.equal(mu.length, 41);
  assert.equal(mu[0], 0);
  assert.ok(Math.abs(mu[40] - 8) < 1e-12);
  // np.arange(0, 1.3, 0.3) has 5 values: the count follows numpy's ceil((stop - start) / step).
  assert.equal(gaussianCentres({ dmin: 0, dmax: 1, step: 0.3 }).length, 5);
  const g = gaussianExpand(new Float32Array([0, 1.1, 9]));
  assert.equal(g.length, 3 * 41);
  assert.equal(g[0], 1);
  assert.ok(Math.abs(g[1] - Math.exp(-1)) < 1e-7); // one step away
  assert.ok(Math.abs(g[2] - Math.exp(-4)) < 1e-7); // two steps away
  // 1.1 Å sits halfway between centres 1.0 and 1.2: both get exp(-0.25), centre 1.4 gets exp(-2.25).
  assert.ok(Math.abs(g[41 + 5] - Math.exp(-0.25)) < 1e-6);
  assert.ok(Math.abs(g[41 + 6] - Math.exp(-0.25)) < 1e-6);
  assert.ok(Math.abs(g[41 + 7] - Math.exp(-2.25)) < 1e-6);
  // The padding distance 9.0 is 5 widths beyond the last centre: exp(-25).
  assert.ok(Math.abs(g[2 * 41 + 40] - Math.exp(-25)) < 1e-15);
  const wide = gaussianExpand([0.5], { width: 0.5 });
  assert.ok(Math.abs(wide[0] - Math.exp(-1)) < 1e-7);
  // No subnormal float32 (slow in wasm): centres whose value would fall below 2^-126 are 0, the others unchanged.
  const fine = gaussianExpand(Array.from({ length: 8001 }, (_, i) => i / 1000));
  const exact = (d: number, mu: number) => Math.fround(Math.exp(-((d - mu) ** 2) / 0.04));
  let zeros = 0;
  fine.forEach((v, i) => {
    assert.ok(v === 0 || v >= 2 ** -126, `subnormal ${v}`);
    const want = exact(Math.trunc(i / 41) / 1000, (i % 41) * 0.2);
    if (v === 0 && want !== 0) zeros++;
    else assert.equal(v, want);
  });
  assert.ok(zeros > 8001, `${zeros} subnormals set to 0`);
});
