/**
 * Custom kernels and gradients (src/ml/kernels) against plain-JS float64 references, on cpu and wasm.
 * Shapes are small and odd on purpose (row lengths below and above the copy-loop threshold, empty
 * tensors, non-contiguous slices) so that every branch of the kernels runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { BACKENDS, TOL, randArray, randInts, size, assertClose, segmentSumRef, gatherRef, matMulRef, sumRef, tileRef, sliceRef } from '../support/kernel-refs.js';

// Makes the engine throw when a kernel leaves backend buffers behind (intermediates not released).
tf.env().set('IS_TEST', true);

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

}
