/**
 * Custom gradients (src/ml/kernels) against float64 references on cpu and wasm, the two backends against each other on a
 * CGCNN-like model, and the fallback to stock gradients on a backend without our kernels.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/ml/backend.js';
import { tf } from '../../src/ml/tf.js';
import { BACKENDS, randArray, randInts, size, strides, forEachIndex, assertClose, segmentSumRef, matMulRef, sumRef, transpose2 } from '../support/kernel-refs.js';

// Makes the engine throw when a kernel leaves backend buffers behind (intermediates not released).
tf.env().set('IS_TEST', true);

// ---- tests ----

for (const backend of BACKENDS) {
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

