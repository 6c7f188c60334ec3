/**
 * Gradients that replace tfjs-core's on backends where our kernels are installed (cpu, wasm). The
 * gradient registry is global, so each one falls back to the stock gradient when another backend
 * (tfjs-node's `tensorflow`) is active: its native kernels do not need these rewrites.
 */
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { swapLastTwo } from './matmul.js';

type GradFunc = GradConfig['gradFunc'];

function single(dy: Tensor | Tensor[]): Tensor {
  if (Array.isArray(dy)) throw new Error('expected a single upstream gradient');
  return dy;
}

function saved(list: Tensor[], i: number): Tensor {
  const t = list[i];
  if (t === undefined) throw new Error(`gradient: saved tensor ${i} is missing`);
  return t;
}

/** UnsortedSegmentSum: our forward kernels reject invalid ids, so the gradient is a plain gather
 * (the stock one masks negative ids with a full-size broadcast LogicalAnd + where). */
const segmentSumGrad: GradFunc = (dy, savedTensors) => {
  const ids = saved(savedTensors, 0);
  return { x: () => tf.gather(single(dy), ids) };
};

/** GatherV2 on axis 0: a segment sum of dy straight into our fast kernel (the stock one adds an
 * identity transpose on each side). */
function gatherGrad(stock: GradFunc): GradFunc {
  return (dy, savedTensors, attrs) => {
    const x = saved(savedTensors, 0);
    const indices = saved(savedTensors, 1);
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    if (axis !== 0 || ((attrs.batchDims as number | undefined) ?? 0) !== 0) return stock(dy, savedTensors, attrs);
    return {
      x: () => {
        const n = indices.size;
        const rows = tf.reshape(single(dy), [n, ...x.shape.slice(1)]);
        return tf.unsortedSegmentSum(rows, tf.reshape(indices, [n]), x.shape[0]);
      },
      indices: () => indices,
    };
  };
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const T = (t: Tensor): Tensor => tf.transpose(t, swapLastTwo(t.rank));
const outSize = (rows: number, cols: number, batch: number[]): number => rows * cols * size(batch);

/** x^T @ y, transposing whichever side moves fewer elements. */
function productTA(x: Tensor, y: Tensor): Tensor {
  const m = x.shape[x.rank - 1];
  const n = y.shape[y.rank - 1];
  const viaX = x.size;
  const viaY = y.size + outSize(m, n, x.shape.slice(0, -2));
  return viaX <= viaY ? tf.matMul(T(x), y) : T(tf.matMul(T(y), x));
}

/** x @ y^T, transposing whichever side moves fewer elements. */
function productTB(x: Tensor, y: Tensor): Tensor {
  const m = x.shape[x.rank - 2];
  const n = y.shape[y.rank - 2];
  const viaY = y.size;
  const viaX = x.size + outSize(m, n, x.shape.slice(0, -2));
  return viaY <= viaX ? tf.matMul(x, T(y)) : T(tf.matMul(y, T(x)));
}

/** BatchMatMul without transpose flags: tfjs-core's gradient always uses them, and the wasm kernel's
 * transposed path is ~10x slower than an explicit transpose. */
const matMulGrad: GradFunc = (dyIn, savedTensors, attrs: NamedAttrMap) => {
  const dy = single(dyIn);
  const a = saved(savedTensors, 0);
  const b = saved(savedTensors, 1);
  const tA = attrs.transposeA === true;
  const tB = attrs.transposeB === true;
  if (!tA && !tB) return { a: () => productTB(dy, b), b: () => productTA(a, dy) };
  if (!tA && tB) return { a: () => tf.matMul(dy, b), b: () => productTA(dy, a) };
  if (tA && !tB) return { a: () => productTB(b, dy), b: () => tf.matMul(a, dy) };
  return { a: () => T(tf.matMul(dy, b)), b: () => T(tf.matMul(a, dy)) };
};

/** Tile: sum dy over the repetitions, seen as extra axes of [r0, s0, r1, s1, ...] (the stock gradient
 * adds slices one by one and stops at rank 4). */
const tileGrad: GradFunc = (dyIn, savedTensors, attrs) => {
  const x = saved(savedTensors, 0);
  const reps = attrs.reps as number[];
  return {
    x: () => {
      const dy = single(dyIn);
      const shape: number[] = [];
      const axes: number[] = [];
      x.shape.forEach((s, i) => {
        if (reps[i] !== 1) {
          axes.push(shape.length);
          shape.push(reps[i]);
        }
        shape.push(s);
      });
      const grouped = tf.reshape(dy, shape);
      return axes.length === 0 ? grouped : tf.sum(grouped, axes);
    },
  };
};

/**
 * The replacement gradient configs. `active()` tells whether the running backend has our kernels;
 * `stockGrad(name)` is the gradient tfjs-core registered for that kernel.
 */
export function customGradients(active: () => boolean, stockGrad: (name: string) => GradConfig): GradConfig[] {
  const choose = (name: string, ours: GradFunc): GradConfig => {
    const stock = stockGrad(name);
    return {
      ...stock,
      gradFunc: (dy, savedTensors, attrs) =>
        active() ? ours(dy, savedTensors, attrs) : stock.gradFunc(dy, savedTensors, attrs),
    };
  };
  return [
    choose(tf.UnsortedSegmentSum, segmentSumGrad),
    choose(tf.GatherV2, gatherGrad(stockGrad(tf.GatherV2).gradFunc)),
    choose(tf.BatchMatMul, matMulGrad),
    choose(tf.Tile, tileGrad),
  ];
}
