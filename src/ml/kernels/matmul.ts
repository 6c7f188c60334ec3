/**
 * BatchMatMul / _FusedMatMul for wasm with transpose flags turned into an explicit Transpose and a plain
 * product: the wasm kernels' transposed paths are ~7-10x slower than transposing first
 * (dW = e^T @ dy for [240k,41] x [240k,128]: 690 ms vs 150 ms).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { boolAttr, input } from './kernel_args.js';
import { release, runWasmKernel } from './wasm_memory.js';

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return perm;
}

function makeUntransposed(kernelName: string, stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const transposeA = boolAttr(args.attrs, 'transposeA');
    const transposeB = boolAttr(args.attrs, 'transposeB');
    if (!transposeA && !transposeB) return stock(args);
    const backend = args.backend as BackendWasm;
    const a = input(args.inputs, 'a');
    const b = input(args.inputs, 'b');
    const transposed: TensorInfo[] = [];
    const materialize = (t: TensorInfo, flag: boolean): TensorInfo => {
      if (!flag || t.shape.length < 2) return t;
      const tt = runWasmKernel(backend, tf.Transpose, { x: t }, { perm: swapLastTwo(t.shape.length) });
      transposed.push(tt);
      return tt;
    };
    try {
      return stock({
        ...args,
        inputs: { ...args.inputs, a: materialize(a, transposeA), b: materialize(b, transposeB) },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of transposed) release(backend, t);
    }
  };
  return { kernelName, backendName: 'wasm', kernelFunc };
}

export const makeBatchMatMulWasm = (stock: KernelFunc): KernelConfig => makeUntransposed(tf.BatchMatMul, stock);
export const makeFusedMatMulWasm = (stock: KernelFunc): KernelConfig => makeUntransposed(tf._FusedMatMul, stock);
