import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { expNeg, sigmoid, softplus } from '../../src/ml/inference/fast-math.js';
import { convCloseJs, jsKernels, type ConvCloseArgs, type Kernels, type Region } from '../../src/ml/inference/kernels.js';
import { simdKernels } from '../../src/ml/inference/simd-kernels.js';
import { wasmApi } from '../../src/ml/inference/wasm-asm.js';
import { wasmKernels } from '../../src/ml/inference/wasm-kernels.js';
import { mulberry32 } from '../../src/util/random.js';

await initBackend('wasm');
const wasm = wasmKernels()!;
const rnd = mulberry32(7);
const randoms = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);

/** log(1 + eˣ) and 1/(1 + e⁻ˣ) in float64 from Math.*, accurate at both tails. */
const refSoftplus = (x: number) => (x > 30 ? x + Math.exp(-x) : x < -30 ? Math.exp(x) : Math.log1p(Math.exp(x)));
const refSigmoid = (x: number) => 1 / (1 + Math.exp(-x));

test('fast-math exp, softplus and sigmoid are within 1e-10 of Math.* in float64', () => {
  let worst = 0;
  for (let i = 0; i <= 200_000; i++) {
    const x = -90 + (180 * i) / 200_000;
    worst = Math.max(worst, Math.abs(softplus(x) - refSoftplus(x)) / refSoftplus(x), Math.abs(sigmoid(x) - refSigmoid(x)) / refSigmoid(x));
    if (x >= 0) worst = Math.max(worst, Math.abs(expNeg(x) - Math.exp(-x)) / Math.exp(-x));
  }
  assert.ok(worst < 1e-10, `worst relative error ${worst}`);
  assert.equal(softplus(1e30), 1e30);
  assert.equal(softplus(-1e30), 0);
  assert.equal(expNeg(1e9), 0);
});

test('the SIMD softplus and sigmoid are within a few float32 ulps', () => {
  const memory = new wasmApi.Memory({ initial: 4 });
  const k = simdKernels(memory);
  const n = 1 << 14;
  const xs = Float32Array.from({ length: n }, (_, i) => -80 + (160 * i) / n);
  const heap = new Float32Array(memory.buffer, 0, n);
  for (const [name, run, ref] of [
    ['softplus', k.softplus, refSoftplus],
    ['sigmoid', k.sigmoid, refSigmoid],
  ] as const) {
    heap.set(xs);
    run(0, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(heap[i] - ref(xs[i])) / Math.max(ref(xs[i]), 1e-30));
    assert.ok(worst < 4e-7, `${name}: worst relative error ${worst}`);
  }
});

function fill(k: Kernels, data: Float32Array): Region {
  const r = k.alloc(data.length);
  r.f32().set(data);
  return r;
}

test('a wasm dense layer gives the bits of tf.add(tf.matMul(x, W), b) and of tf.softplus on it; the JS product too', () => {
  for (const [rows, kIn, nOut] of [
    [1, 544, 256],
    [7, 64, 32],
    [300, 128, 64],
    [5, 32, 1],
  ]) {
    // inputs of a few thousand, as standardised descriptors can be: the order of the float32 sums shows in the bits
    const x = randoms(rows * kIn, 3000);
    const w = randoms(kIn * nOut, 0.1);
    const b = randoms(nOut, 0.5);
    for (const act of ['linear', 'softplus'] as const) {
      const expected = tf.tidy(() => {
        const y = tf.add(tf.matMul(tf.tensor2d(x, [rows, kIn]), tf.tensor2d(w, [kIn, nOut])), tf.tensor1d(b));
        return (act === 'softplus' ? tf.softplus(y) : y).dataSync() as Float32Array;
      });
      for (const k of [wasm, jsKernels]) {
        const d = k.prepareDense({ k: kIn, n: nOut, w, b });
        const xr = fill(k, x);
        const out = k.alloc(rows * nOut);
        k.dense(d, xr, rows, out, act);
        const got = out.f32().slice(0, rows * nOut);
        if (k.kind === 'wasm' || act === 'linear') {
          assert.deepEqual(got, expected, `${k.kind} ${act} ${rows}×${kIn}→${nOut}`);
        } else {
          // plain JS: the product is bitwise, its softplus is float64 (TF.js's is float32 log(sigmoid)): ~1e-7 apart
          for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 2e-7 * Math.max(1, Math.abs(expected[i])), `${got[i]} vs ${expected[i]}`);
        }
        k.free(xr);
        k.free(out);
        k.releaseDense(d);
      }
    }
  }
});

test('the SIMD conv close equals the plain-JS one', () => {
  const atoms = 23;
  const M = 12;
  const A = 64;
  const distances = 40;
  const data = {
    edge: randoms(distances * 2 * A, 2),
    edgeRow: new Float32Array(Int32Array.from({ length: atoms * M }, () => Math.floor(rnd() * distances)).buffer),
    pair: randoms(atoms * 4 * A, 2),
    // int32 neighbour rows, carried as their bits
    nbr: new Float32Array(Int32Array.from({ length: atoms * M }, () => Math.floor(rnd() * atoms)).buffer),
    x: randoms(atoms * A, 3),
    bn: Float32Array.from({ length: 2 * A }, (_, i) => (i < A ? 0.5 + rnd() : rnd() - 0.5)),
  };
  const outs = ([wasm, jsKernels] as const).map((k) => {
    const args: ConvCloseArgs = {
      edge: fill(k, data.edge),
      edgeRow: fill(k, data.edgeRow),
      pair: fill(k, data.pair),
      nbr: fill(k, data.nbr),
      x: fill(k, data.x),
      bn: fill(k, data.bn),
      out: k.alloc(atoms * A),
      atoms,
      maxNeighbors: M,
      atomFea: A,
    };
    k.convClose(args);
    const out = args.out.f32().slice(0, atoms * A);
    for (const r of [args.edge, args.edgeRow, args.pair, args.nbr, args.x, args.bn, args.out]) k.free(r);
    return out;
  });
  let worst = 0;
  outs[0].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - outs[1][i]) / Math.max(1, Math.abs(outs[1][i])))));
  assert.ok(worst < 2e-6, `worst relative difference ${worst}`);
  assert.equal(convCloseJs, jsKernels.convClose);
});
