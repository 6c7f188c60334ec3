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
import { gaussianExpand } from '../../src/chem/neighbors.js';
import { packChunk } from '../../src/ml/inference/graph-chunk.js';
import { fixtureGraphs } from './fixture-graphs.js';

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
  const A = 64;
  const distances = 40;
  // 1 to 12 distinct (neighbour, distance) slots per atom, each standing for 1 to 3 neighbour slots
  const start = [0];
  const nbr: number[] = [];
  const row: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < atoms; i++) {
    const n = 1 + Math.floor(rnd() * 12);
    for (let s = 0; s < n; s++) {
      nbr.push(Math.floor(rnd() * atoms));
      row.push(Math.floor(rnd() * distances));
      count.push(1 + Math.floor(rnd() * 3));
    }
    start.push(nbr.length);
  }
  // int32 arrays travel as their bits
  const bits = (v: number[]) => new Float32Array(Int32Array.from(v).buffer);
  const data = {
    edge: randoms(distances * 2 * A, 2),
    pair: randoms(atoms * 4 * A, 2),
    x: randoms(atoms * A, 3),
    bn: Float32Array.from({ length: 2 * A }, (_, i) => (i < A ? 0.5 + rnd() : rnd() - 0.5)),
  };
  const outs = ([wasm, jsKernels] as const).map((k) => {
    const slots = { start: fill(k, bits(start)), nbr: fill(k, bits(nbr)), row: fill(k, bits(row)), count: fill(k, Float32Array.from(count)) };
    const args: ConvCloseArgs = { edge: fill(k, data.edge), pair: fill(k, data.pair), slots, x: fill(k, data.x), bn: fill(k, data.bn), out: k.alloc(atoms * A), atoms, atomFea: A };
    k.convClose(args);
    const out = args.out.f32().slice(0, atoms * A);
    for (const r of [args.edge, args.pair, args.x, args.bn, args.out, ...Object.values(slots)]) k.free(r);
    return out;
  });
  let worst = 0;
  outs[0].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - outs[1][i]) / Math.max(1, Math.abs(outs[1][i])))));
  assert.ok(worst < 2e-6, `worst relative difference ${worst}`);
  assert.equal(convCloseJs, jsKernels.convClose);
});

test('a packed chunk keeps every neighbour slot: distinct (neighbour, distance) slots with counts, one edge row per distance', () => {
  const graphs = fixtureGraphs;
  const c = packChunk(graphs, 0, graphs.length);
  assert.equal(c.atoms, graphs.reduce((a, g) => a + g.atomicNumbers.length, 0));
  const expected = gaussianExpand(graphs.flatMap((g) => [...g.nbrDist]));
  let atom = 0;
  let slots = 0;
  let base = 0;
  for (const g of graphs) {
    for (let a = 0; a < g.atomicNumbers.length; a++, atom++) {
      // the multiset of (neighbour, edge-feature row) of the atom is the graph's, slot for slot
      const want = new Map<string, number>();
      for (let m = 0; m < 12; m++) {
        const key = `${g.nbrIdx[a * 12 + m] + base}:${expected.subarray((slots + m) * 41, (slots + m + 1) * 41).join()}`;
        want.set(key, (want.get(key) ?? 0) + 1);
      }
      const got = new Map<string, number>();
      for (let s = c.slotStart[atom]; s < c.slotStart[atom + 1]; s++) {
        const key = `${c.slotNbr[s]}:${c.edgeFea.subarray(c.slotRow[s] * 41, (c.slotRow[s] + 1) * 41).join()}`;
        assert.ok(!got.has(key), 'slots of an atom are distinct');
        got.set(key, c.slotCount[s]);
      }
      assert.deepEqual(got, want);
      slots += 12;
    }
    base += g.atomicNumbers.length;
  }
  assert.equal(c.distinctDistances, new Set(graphs.flatMap((g) => [...g.nbrDist])).size);
});
