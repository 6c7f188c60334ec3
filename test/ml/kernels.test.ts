/**
 * Custom kernels and gradients (src/ml/kernels) against plain-JS float64 references, on cpu and wasm.
 * Shapes are small and odd on purpose (row lengths below and above the copy-loop threshold, empty
 * tensors, non-contiguous slices) so that every branch of the kernels runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';

// Makes the engine throw when a kernel leaves backend buffers behind (intermediates not released).
tf.env().set('IS_TEST', true);

const BACKENDS = ['cpu', 'wasm'] as const;
const TOL = 1e-5;

/** Deterministic uniform numbers in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function randArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, r);
}

function randInts(n: number, max: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(((r() + 1) / 2) * max));
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Calls f with every multi-index of shape, in row-major order. */
function forEachIndex(shape: number[], f: (idx: number[], flat: number) => void): void {
  const n = size(shape);
  const st = strides(shape);
  for (let flat = 0; flat < n; flat++) f(shape.map((d, i) => Math.floor(flat / st[i]) % d), flat);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = TOL): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: error ${worst} at ${at} (got ${actual[at]}, want ${expected[at]})`);
}

// ---- references (float64) ----

function segmentSumRef(x: Float32Array, rowLen: number, ids: Int32Array, numSegments: number): Float64Array {
  const out = new Float64Array(numSegments * rowLen);
  ids.forEach((s, r) => {
    for (let k = 0; k < rowLen; k++) out[s * rowLen + k] += x[r * rowLen + k];
  });
  return out;
}

function gatherRef(x: Float32Array, shape: number[], indices: Int32Array, axis: number): Float64Array {
  const outer = size(shape.slice(0, axis));
  const dim = shape[axis];
  const inner = size(shape.slice(axis + 1));
  const out = new Float64Array(outer * indices.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const id of indices) {
      for (let k = 0; k < inner; k++) out[o++] = x[(a * dim + id) * inner + k];
    }
  }
  return out;
}

function matMulRef(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean) {
  const [ar, ac] = aShape;
  const [br, bc] = bShape;
  const m = tA ? ac : ar;
  const k = tA ? ar : ac;
  const n = tB ? br : bc;
  const at = (i: number, j: number) => (tA ? a[j * ac + i] : a[i * ac + j]);
  const bt = (i: number, j: number) => (tB ? b[j * bc + i] : b[i * bc + j]);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      out[i * n + j] = s;
    }
  }
  return out;
}

function sumRef(x: Float32Array, shape: number[], axes: number[]): Float64Array {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const os = strides(outShape);
  const out = new Float64Array(size(outShape));
  forEachIndex(shape, (idx, flat) => {
    out[idx.reduce((acc, v, i) => acc + (axes.includes(i) ? 0 : v * os[i]), 0)] += x[flat];
  });
  return out;
}

function tileRef(x: Float32Array, shape: number[], reps: number[]): Float64Array {
  const outShape = shape.map((d, i) => d * reps[i]);
  const xs = strides(shape);
  const out = new Float64Array(size(outShape));
  forEachIndex(outShape, (idx, flat) => {
    out[flat] = x[idx.reduce((acc, v, i) => acc + (v % shape[i]) * xs[i], 0)];
  });
  return out;
}

function sliceRef(x: Float32Array, shape: number[], begin: number[], sz: number[]): Float64Array {
  const xs = strides(shape);
  const out = new Float64Array(size(sz));
  forEachIndex(sz, (idx, flat) => {
    out[flat] = x[idx.reduce((acc, v, i) => acc + (v + begin[i]) * xs[i], 0)];
  });
  return out;
}

// ---- tests ----

for (const backend of BACKENDS) {
  describe(`custom kernels on ${backend}`, () => {
    const use = () => initBackend(backend);

    it('unsortedSegmentSum matches the reference (float32, int32, 2-D ids, empty)', async () => {
      await use();
      for (const [rows, rowShape, numSegments] of [
        [50, [7], 9],
        [64, [3, 20], 5],
        [13, [], 4],
        [0, [6], 3],
      ] as [number, number[], number][]) {
        const rowLen = size(rowShape);
        const xv = randArray(rows * rowLen, rows + 1);
        const ids = randInts(rows, numSegments, rows + 2);
        const got = tf.tidy(() =>
          tf.unsortedSegmentSum(tf.tensor(xv, [rows, ...rowShape]), tf.tensor1d(ids, 'int32'), numSegments).dataSync(),
        );
        assertClose(got, segmentSumRef(xv, rowLen, ids, numSegments), `segment sum ${rows}x[${rowShape}]`);
      }
      const ints = tf.tidy(() =>
        tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0, 2], 'int32'), 3),
      );
      assert.equal(ints.dtype, 'int32');
      assert.deepEqual(Array.from(ints.dataSync()), [3, 4, 0, 0, 6, 8]);
      ints.dispose();
      const xv = randArray(4 * 3 * 5, 7);
      const ids2 = Int32Array.from([0, 1, 1, 2, 0, 3, 3, 1, 2, 2, 0, 1]);
      // Typed as 1-D by tfjs; TensorFlow semantics allow any prefix of x's shape.
      const ids2d = tf.tensor2d(ids2, [4, 3], 'int32') as tf.Tensor as tf.Tensor1D;
      const got2 = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor3d(xv, [4, 3, 5]), ids2d, 4));
      ids2d.dispose();
      assert.deepEqual(got2.shape, [4, 5]);
      assertClose(got2.dataSync(), segmentSumRef(xv, 5, ids2, 4), 'segment sum with 2-D ids');
      got2.dispose();
    });

    it('unsortedSegmentSum rejects ids outside [0, numSegments)', async () => {
      await use();
      for (const bad of [-1, 3]) {
        assert.throws(
          () => tf.tidy(() => tf.unsortedSegmentSum(tf.ones([3, 2]), tf.tensor1d([0, bad, 1], 'int32'), 3)),
          /segment id/,
        );
      }
    });

    it('gather matches the reference on any axis, with 2-D indices, for int32 and bool', async () => {
      await use();
      for (const [shape, axis, nIdx] of [
        [[11, 40], 0, 30],
        [[11, 3], 0, 25],
        [[4, 9, 6], 1, 7],
        [[5, 8], 1, 12],
        [[6], 0, 10],
      ] as [number[], number, number][]) {
        const xv = randArray(size(shape), size(shape));
        const idx = randInts(nIdx, shape[axis], nIdx);
        const got = tf.tidy(() => tf.gather(tf.tensor(xv, shape), tf.tensor1d(idx, 'int32'), axis).dataSync());
        assertClose(got, gatherRef(xv, shape, idx, axis), `gather [${shape}] axis ${axis}`);
      }
      // tfjs types gather's indices as 1-D, but any rank works (output shape indices.shape + row shape).
      const idx2 = tf.tensor2d([2, 0, 1, 2], [2, 2], 'int32') as tf.Tensor as tf.Tensor1D;
      const two = tf.tidy(() => tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), idx2));
      idx2.dispose();
      assert.deepEqual(two.shape, [2, 2, 2]);
      assert.deepEqual(Array.from(two.dataSync()), [5, 6, 1, 2, 3, 4, 5, 6]);
      two.dispose();
      const bools = tf.tidy(() => tf.gather(tf.tensor1d([true, false, true], 'bool'), tf.tensor1d([1, 2, 1], 'int32')));
      assert.deepEqual(Array.from(bools.dataSync()), [0, 1, 0]);
      bools.dispose();
      assert.throws(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32'))));
    });

    it('matMul with every transpose combination, rank 2 and 3', async () => {
      await use();
      for (const [tA, tB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const [m, k, n] = [7, 19, 5];
        const aShape = tA ? [k, m] : [m, k];
        const bShape = tB ? [n, k] : [k, n];
        const av = randArray(m * k, 11);
        const bv = randArray(k * n, 12);
        const got = tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), tA, tB).dataSync());
        assertClose(got, matMulRef(av, aShape, bv, bShape, tA, tB), `matMul tA=${tA} tB=${tB}`);
        const batched = tf.tidy(() =>
          tf
            .matMul(tf.tensor(av, [1, ...aShape]), tf.tensor(bv, [1, ...bShape]), tA, tB)
            .dataSync(),
        );
        assertClose(batched, matMulRef(av, aShape, bv, bShape, tA, tB), `batched matMul tA=${tA} tB=${tB}`);
      }
    });

    it('slice and split, contiguous and strided, rank 1 to 4', async () => {
      await use();
      const cases: [number[], number[], number[]][] = [
        [[30], [4], [20]],
        [[6, 40], [1, 0], [4, 40]],
        [[6, 40], [2, 5], [3, 30]],
        [[5, 4, 7], [1, 1, 2], [3, 2, 4]],
        [[3, 4, 5, 6], [1, 0, 2, 1], [2, 4, 3, 5]],
        [[3, 4, 5, 6], [0, 1, 0, 0], [3, 2, 5, 6]],
      ];
      for (const [shape, begin, sz] of cases) {
        const xv = randArray(size(shape), size(shape) + 3);
        const got = tf.tidy(() => tf.slice(tf.tensor(xv, shape), begin, sz).dataSync());
        assertClose(got, sliceRef(xv, shape, begin, sz), `slice [${shape}] at [${begin}] size [${sz}]`);
      }
      const shape = [4, 10, 6];
      const xv = randArray(size(shape), 5);
      tf.tidy(() => {
        const x = tf.tensor(xv, shape);
        const parts = tf.split(x, [3, -1, 2], 1);
        assert.deepEqual(
          parts.map((p) => p.shape),
          [
            [4, 3, 6],
            [4, 5, 6],
            [4, 2, 6],
          ],
        );
        let start = 0;
        for (const p of parts) {
          const w = p.shape[1]!;
          assertClose(p.dataSync(), sliceRef(xv, shape, [0, start, 0], [4, w, 6]), `split part at ${start}`);
          start += w;
        }
        const halves = tf.split(x, 2, 2);
        assertClose(halves[1]!.dataSync(), sliceRef(xv, shape, [0, 0, 3], [4, 10, 3]), 'split in 2 on the last axis');
      });
    });

    it('concat on each axis, with an empty part and int32', async () => {
      await use();
      const a = randArray(2 * 3 * 20, 1);
      const b = randArray(2 * 5 * 20, 2);
      tf.tidy(() => {
        const ta = tf.tensor(a, [2, 3, 20]);
        const tb = tf.tensor(b, [2, 5, 20]);
        const empty = tf.zeros([2, 0, 20]);
        const got = tf.concat([ta, empty, tb], 1);
        assert.deepEqual(got.shape, [2, 8, 20]);
        // Reference: per batch, 3 rows of a then 5 rows of b.
        const ref: number[] = [];
        for (let i = 0; i < 2; i++) ref.push(...a.slice(i * 60, i * 60 + 60), ...b.slice(i * 100, i * 100 + 100));
        assertClose(got.dataSync(), ref, 'concat axis 1');
        const last = tf.concat([ta, ta], 2);
        assertClose(tf.slice(last, [0, 0, 20], [2, 3, 20]).dataSync(), a, 'concat axis 2, second half');
        const first = tf.concat([ta, ta, ta], 0);
        assertClose(first.dataSync(), [...a, ...a, ...a], 'concat axis 0');
        const ints = tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]);
        assert.equal(ints.dtype, 'int32');
        assert.deepEqual(Array.from(ints.dataSync()), [1, 2, 3]);
      });
    });

    it('tile and broadcastTo match the reference', async () => {
      await use();
      for (const [shape, reps] of [
        [[5], [4]],
        [[3, 1, 20], [1, 6, 1]],
        [[2, 3], [3, 2]],
        [[1, 1, 17], [4, 5, 1]],
        [[2, 3, 2, 4], [2, 1, 3, 2]],
      ] as [number[], number[]][]) {
        const xv = randArray(size(shape), size(shape) + 9);
        const got = tf.tidy(() => tf.tile(tf.tensor(xv, shape), reps).dataSync());
        assertClose(got, tileRef(xv, shape, reps), `tile [${shape}] by [${reps}]`);
      }
      const b = tf.tidy(() => tf.broadcastTo(tf.tensor1d([1, 2, 3]), [2, 3]).dataSync());
      assert.deepEqual(Array.from(b), [1, 2, 3, 1, 2, 3]);
    });

    it('sum and mean over leading, middle, innermost and split axes', async () => {
      await use();
      const shape = [6, 7, 33];
      const xv = randArray(size(shape), 21);
      for (const axes of [[0], [1], [0, 1], [2], [1, 2], [0, 2], [0, 1, 2]]) {
        const ref = sumRef(xv, shape, axes);
        const count = axes.reduce((p, a) => p * shape[a], 1);
        // float32 accumulation: the error of a sum grows like sqrt(count).
        const tol = TOL * Math.sqrt(count);
        tf.tidy(() => {
          const x = tf.tensor(xv, shape);
          const s = tf.sum(x, axes, true);
          assert.deepEqual(s.shape, shape.map((d, i) => (axes.includes(i) ? 1 : d)));
          assertClose(s.dataSync(), ref, `sum over [${axes}]`, tol);
          assertClose(tf.mean(x, axes).dataSync(), Array.from(ref, (v) => v / count), `mean over [${axes}]`, tol);
        });
      }
    });

    it('inputs created on the other backend are moved in first', async () => {
      const other = backend === 'cpu' ? 'wasm' : 'cpu';
      await initBackend(other);
      const xv = randArray(6 * 20, 31);
      const x = tf.tensor2d(xv, [6, 20]);
      const ids = tf.tensor1d([2, 0, 2, 1, 5, 5], 'int32');
      await use();
      tf.tidy(() => {
        assertClose(tf.gather(x, ids).dataSync(), gatherRef(xv, [6, 20], Int32Array.from([2, 0, 2, 1, 5, 5]), 0), 'gather');
        assertClose(tf.unsortedSegmentSum(x, ids, 6).dataSync(), segmentSumRef(xv, 20, Int32Array.from([2, 0, 2, 1, 5, 5]), 6), 'segment sum');
        assertClose(tf.slice(x, [1, 3], [4, 17]).dataSync(), sliceRef(xv, [6, 20], [1, 3], [4, 17]), 'slice');
        assertClose(tf.tile(x, [1, 2]).dataSync(), tileRef(xv, [6, 20], [1, 2]), 'tile');
      });
      tf.dispose([x, ids]);
    });

    it('softplus, identity and same-dtype cast', async () => {
      await use();
      const xs = Float32Array.from({ length: 4001 }, (_, i) => -100 + i * 0.05);
      const got = tf.tidy(() => tf.softplus(tf.tensor1d(xs)).dataSync());
      const ref = Array.from(xs, (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))));
      // Absolute error: for x < -17 the result may be 0 instead of exp(x) < 4e-8.
      ref.forEach((r, i) => assert.ok(Math.abs(got[i] - r) < 1e-5 * Math.max(1, r), `softplus(${xs[i]})`));
      const x = tf.tensor1d([1, 2, 3]);
      const c = tf.clone(x);
      const k = tf.cast(x, 'float32');
      x.dispose();
      assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
      assert.deepEqual(Array.from(k.dataSync()), [1, 2, 3]);
      c.dispose();
      assert.deepEqual(Array.from(k.dataSync()), [1, 2, 3]);
      k.dispose();
      const i = tf.tidy(() => tf.cast(tf.tensor1d([1.7, -2.2]), 'int32').dataSync());
      assert.deepEqual(Array.from(i), [1, -2]);
    });
  });

  describe(`custom gradients on ${backend}`, () => {
    const use = () => initBackend(backend);

    it('unsortedSegmentSum: gradient is dy gathered by segment id', async () => {
      await use();
      const [rows, rowLen, numSegments] = [40, 18, 7];
      const ids = randInts(rows, numSegments, 3);
      const w = randArray(numSegments * rowLen, 4);
      const g = tf.tidy(() => {
        const idsT = tf.tensor1d(ids, 'int32');
        const wT = tf.tensor2d(w, [numSegments, rowLen]);
        return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.unsortedSegmentSum(x, idsT, numSegments), wT)))(
          tf.tensor2d(randArray(rows * rowLen, 5), [rows, rowLen]),
        );
      });
      const ref = new Float64Array(rows * rowLen);
      ids.forEach((s, r) => ref.set(w.subarray(s * rowLen, (s + 1) * rowLen), r * rowLen));
      assertClose(g.dataSync(), ref, 'd segmentSum / dx');
      g.dispose();
    });

    it('gather: gradient is dy segment-summed into the gathered rows (axis 0 and 1)', async () => {
      await use();
      const [n, f, m] = [9, 21, 50];
      const idx = randInts(m, n, 6);
      const w = randArray(m * f, 7);
      const g = tf.tidy(() => {
        const idxT = tf.tensor1d(idx, 'int32');
        const wT = tf.tensor2d(w, [m, f]);
        return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, idxT), wT)))(tf.zeros([n, f]));
      });
      assertClose(g.dataSync(), segmentSumRef(w, f, idx, n), 'd gather / dx, axis 0');
      g.dispose();
      const g1 = tf.tidy(() => {
        const idxT = tf.tensor1d([2, 0, 2], 'int32');
        return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, idxT, 1), tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]))))(
          tf.zeros([2, 4]),
        );
      });
      assert.deepEqual(Array.from(g1.dataSync()), [2, 0, 4, 0, 5, 0, 10, 0]);
      g1.dispose();
    });

    it('matMul: gradients for every transpose combination and operand size order', async () => {
      await use();
      // Both orders of operand sizes, so both branches of the cheaper-operand choice run.
      for (const [m, k, n] of [
        [3, 40, 5],
        [12, 30, 2],
        [2, 25, 11],
      ]) {
        for (const [tA, tB] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ]) {
          const aShape = tA ? [k, m] : [m, k];
          const bShape = tB ? [n, k] : [k, n];
          const av = randArray(m * k, m + k);
          const bv = randArray(k * n, k + n);
          const wv = randArray(m * n, m * n);
          const [ga, gb] = tf.tidy(() => {
            const wT = tf.tensor2d(wv, [m, n]);
            return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, tA, tB), wT)),
            )([tf.tensor(av, aShape), tf.tensor(bv, bShape)]);
          });
          // d/dA = W B^T (m x k), d/dB = A^T W (k x n); transposed back when the operand was.
          const dA = matMulRef(wv, [m, n], bv, bShape, false, !tB);
          const dB = matMulRef(av, aShape, wv, [m, n], !tA, false);
          const dAref = tA ? transpose2(dA, m, k) : dA;
          const dBref = tB ? transpose2(dB, k, n) : dB;
          assertClose(ga!.dataSync(), dAref, `dA m=${m} k=${k} n=${n} tA=${tA} tB=${tB}`);
          assertClose(gb!.dataSync(), dBref, `dB m=${m} k=${k} n=${n} tA=${tA} tB=${tB}`);
          tf.dispose([ga!, gb!]);
        }
      }
    });

    it('tile, sum and mean: gradients broadcast dy back', async () => {
      await use();
      const shape = [3, 1, 4];
      const reps = [2, 5, 1];
      const out = shape.map((d, i) => d * reps[i]);
      const w = randArray(size(out), 8);
      const g = tf.tidy(() =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.tile(x, reps), tf.tensor(w, out))))(tf.zeros(shape)),
      );
      assertClose(g.dataSync(), sumRef(w, [2, 3, 5, 1, 4], [0, 2]), 'd tile / dx');
      g.dispose();
      const xs = [4, 6, 5];
      for (const axes of [[0], [0, 1], [1], [2]]) {
        const keep = xs.map((d, i) => (axes.includes(i) ? 1 : d));
        const wv = randArray(size(keep), 9);
        const count = axes.reduce((p, a) => p * xs[a], 1);
        const ref = new Float64Array(size(xs));
        const ks = strides(keep);
        forEachIndex(xs, (idx, flat) => {
          ref[flat] = wv[idx.reduce((acc, v, i) => acc + (axes.includes(i) ? 0 : v * ks[i]), 0)];
        });
        const [gs, gm] = tf.tidy(() => {
          const wT = tf.tensor(wv, keep);
          const f = (red: typeof tf.sum) => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(red(x, axes, true), wT)));
          return [f(tf.sum)(tf.zeros(xs)), f(tf.mean)(tf.zeros(xs))];
        });
        assertClose(gs!.dataSync(), ref, `d sum over [${axes}]`);
        assertClose(gm!.dataSync(), Array.from(ref, (v) => v / count), `d mean over [${axes}]`);
        tf.dispose([gs!, gm!]);
      }
    });

    it('a CGCNN-like training step leaks no tensors and no backend buffers', async () => {
      await use();
      const [n, m, a, c] = [30, 4, 8, 3];
      const nbr = tf.tensor1d(randInts(n * m, n, 10), 'int32');
      const self = tf.tensor1d(Int32Array.from({ length: n * m }, (_, i) => Math.floor(i / m)), 'int32');
      const crystal = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % c), 'int32');
      const x = tf.tensor2d(randArray(n * a, 11), [n, a]);
      const e = tf.tensor2d(randArray(n * m * 5, 12), [n * m, 5]);
      const vars = [
        tf.variable(tf.tensor2d(randArray(a * 2 * a, 13), [a, 2 * a])),
        tf.variable(tf.tensor2d(randArray(a * 2 * a, 14), [a, 2 * a])),
        tf.variable(tf.tensor2d(randArray(5 * 2 * a, 15), [5, 2 * a])),
        tf.variable(tf.tensor2d(randArray(a, 16), [a, 1])),
      ];
      const [wSelf, wNbr, wEdge, head] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const loss = () =>
        tf.tidy(() => {
          const z = tf.add(
            tf.reshape(tf.add(tf.gather(tf.matMul(x, wNbr), nbr), tf.matMul(e, wEdge)), [n, m, 2 * a]),
            tf.reshape(tf.matMul(x, wSelf), [n, 1, 2 * a]),
          );
          const { mean, variance } = tf.moments(z, [0, 1]);
          const zn = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5)));
          const [f, core] = tf.split(zn, 2, 2) as [tf.Tensor, tf.Tensor];
          const msg = tf.mul(tf.sigmoid(f), tf.softplus(core));
          const summed = tf.add(tf.sum(msg, 1), tf.unsortedSegmentSum(tf.reshape(msg, [n * m, a]), self, n));
          const pooled = tf.unsortedSegmentSum(tf.softplus(tf.add(x, summed)), crystal, c);
          return tf.mean(tf.square(tf.matMul(tf.concat([pooled, pooled], 0), head))) as tf.Scalar;
        });
      const opt = tf.train.adam(0.01);
      const backendOf = tf.backend();
      const counts: [number, number][] = [];
      let first = NaN;
      let last = NaN;
      for (let step = 0; step < 5; step++) {
        const l = opt.minimize(loss, true, vars)!;
        last = l.dataSync()[0];
        if (step === 0) first = last;
        l.dispose();
        counts.push([tf.memory().numTensors, backendOf.numDataIds()]);
      }
      assert.ok(Number.isFinite(last) && last < first, `loss should decrease: ${first} -> ${last}`);
      assert.deepEqual(counts[4], counts[1], `tensor / buffer counts drift: ${JSON.stringify(counts)}`);
      opt.dispose();
      tf.dispose([nbr, self, crystal, x, e, ...vars]);
    });
  });
}

/** A small CGCNN-like loss touching every replaced kernel and gradient; returns loss and gradients. */
function cgcnnLikeGrads(seed: number): { loss: number; grads: Float32Array[] } {
  const [n, m, a, c] = [25, 4, 8, 3];
  return tf.tidy(() => {
    const nbr = tf.tensor1d(randInts(n * m, n, seed), 'int32');
    const self = tf.tensor1d(Int32Array.from({ length: n * m }, (_, i) => Math.floor(i / m)), 'int32');
    const crystal = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % c), 'int32');
    const x = tf.tensor2d(randArray(n * a, seed + 1), [n, a]);
    const e = tf.tensor2d(randArray(n * m * 5, seed + 2), [n * m, 5]);
    const params = [
      tf.tensor2d(randArray(a * 2 * a, seed + 3), [a, 2 * a]),
      tf.tensor2d(randArray(a * 2 * a, seed + 4), [a, 2 * a]),
      tf.tensor2d(randArray(5 * 2 * a, seed + 5), [5, 2 * a]),
      tf.tensor2d(randArray(a, seed + 6), [a, 1]),
    ];
    const f = (wSelf: tf.Tensor, wNbr: tf.Tensor, wEdge: tf.Tensor, head: tf.Tensor) => {
      const perEdge = tf.add(tf.gather(tf.matMul(x, wNbr as tf.Tensor2D), nbr), tf.matMul(e, wEdge as tf.Tensor2D));
      const z = tf.add(tf.reshape(perEdge, [n, m, 2 * a]), tf.reshape(tf.matMul(x, wSelf as tf.Tensor2D), [n, 1, 2 * a]));
      const { mean, variance } = tf.moments(z, [0, 1]);
      const zn = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5)));
      const [fl, core] = tf.split(zn, 2, 2) as [tf.Tensor, tf.Tensor];
      const msg = tf.mul(tf.sigmoid(fl), tf.softplus(core));
      const summed = tf.add(tf.sum(msg, 1), tf.unsortedSegmentSum(tf.reshape(msg, [n * m, a]), self, n));
      const tiled = tf.tile(tf.reshape(tf.mean(summed, 0), [1, a]), [n, 1]);
      const pooled = tf.unsortedSegmentSum(tf.softplus(tf.add(tf.add(x, summed), tiled)), crystal, c);
      const y = tf.matMul(tf.concat([pooled, pooled], 1), tf.concat([head, head], 0), false, false);
      return tf.mean(tf.square(tf.matMul(y, y, true, false))) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)(params);
    return { loss: value.dataSync()[0], grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

describe('cpu and wasm agree', () => {
  it('on the loss and gradients of a CGCNN-like model', async () => {
    await initBackend('cpu');
    const onCpu = cgcnnLikeGrads(40);
    await initBackend('wasm');
    const onWasm = cgcnnLikeGrads(40);
    assertClose([onWasm.loss], [onCpu.loss], 'loss', 1e-4);
    onCpu.grads.forEach((g, i) => assertClose(onWasm.grads[i], g, `gradient ${i}`, 1e-4));
  });
});

describe('gradient fallback', () => {
  /** Runs the matMul gradient on `backend` and returns the transpose flags its BatchMatMul calls used. */
  async function flagsSeen(backend: string, activate: () => Promise<unknown>): Promise<boolean[]> {
    await activate();
    const stock = tf.getKernel(tf.BatchMatMul, backend)!;
    const seen: boolean[] = [];
    tf.unregisterKernel(tf.BatchMatMul, backend);
    tf.registerKernel({
      ...stock,
      kernelFunc: (args) => {
        seen.push(args.attrs?.transposeA === true || args.attrs?.transposeB === true);
        return stock.kernelFunc(args);
      },
    });
    try {
      tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)))([tf.ones([3, 4]), tf.ones([4, 2])]));
    } finally {
      tf.unregisterKernel(tf.BatchMatMul, backend);
      tf.registerKernel(stock);
    }
    return seen;
  }

  it('our matMul gradient avoids transpose flags; a backend without our kernels keeps the stock one', async () => {
    const ours = await flagsSeen('cpu', () => initBackend('cpu'));
    assert.ok(ours.length >= 3 && ours.every((f) => !f), `flags on cpu: ${ours}`);
    tf.registerBackend('plain', () => new MathBackendCPU(), 0);
    tf.copyRegisteredKernels('cpu', 'plain');
    try {
      const stock = await flagsSeen('plain', () => tf.setBackend('plain'));
      assert.ok(stock.some((f) => f), `the stock gradient uses transpose flags: ${stock}`);
    } finally {
      await initBackend('cpu');
      tf.removeBackend('plain');
    }
  });
});

function transpose2(v: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}
