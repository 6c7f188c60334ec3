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

/**
 * Relative cost per element of the right operand of a wasm matMul, which XNNPACK re-packs whenever
 * that tensor is new (2.5-10 ns/element measured, vs ~0.5 for a transpose). For a weight gradient
 * the right operand is a big activation, so the choice below decides most of the backward time
 * (dW of the CGCNN edge layer, [240k,41]^T [240k,64]: 215 ms packing dy, 90 ms packing e).
 */
const PACK = 5;

/** x^T @ y, packing the cheaper operand. */
function productTA(x: Tensor, y: Tensor): Tensor {
  const out = x.shape[x.rank - 1] * y.shape[y.rank - 1] * size(x.shape.slice(0, -2));
  const packY = PACK * y.size + x.size;
  const packX = PACK * x.size + y.size + out;
  return packY <= packX ? tf.matMul(T(x), y) : T(tf.matMul(T(y), x));
}

/** x @ y^T, packing the cheaper operand. */
function productTB(x: Tensor, y: Tensor): Tensor {
  const out = x.shape[x.rank - 2] * y.shape[y.rank - 2] * size(x.shape.slice(0, -2));
  const packY = (PACK + 1) * y.size;
  const packX = (PACK + 1) * x.size + out;
  return packY <= packX ? tf.matMul(x, T(y)) : T(tf.matMul(y, T(x)));
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

/** Sum and Mean: dy (scaled first, while small, for Mean) broadcast back with one Tile, instead of
 * `ones(x.shape)` times dy (two full-size kernels) and, for Mean, a full-size division. */
function reduceGrad(mean: boolean): GradFunc {
  return (dyIn, savedTensors, attrs) => {
    const x = saved(savedTensors, 0);
    return {
      x: () => {
        const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
        const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        let dy = tf.reshape(single(dyIn), kept);
        if (mean) dy = tf.div(dy, tf.scalar(size(axes.map((a) => x.shape[a]))));
        return tf.broadcastTo(dy, x.shape);
      },
    };
  };
}

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
    choose(tf.Sum, reduceGrad(false)),
    choose(tf.Mean, reduceGrad(true)),
  ];
}
