/**
 * Tile for wasm by block replication. The stock C++ kernel maps every output element back to its
 * input index: 1.1 s to tile [20k,1,128] to [20k,12,128]; `tf.broadcastTo` also runs through Tile.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { input, numbersAttr, sizeOf } from './kernel_args.js';
import { copyRow, elementOffset, heapFor, isHeapDtype, type HeapArray } from './wasm_memory.js';

/** Repeats the `length` elements at `base` so that `times` copies sit back to back. */
function replicate(heap: HeapArray, base: number, length: number, times: number): void {
  const total = length * times;
  let filled = length;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    copyRow(heap, base + filled, base, n);
    filled += n;
  }
}

export function makeTileWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const backend = args.backend as BackendWasm;
    const x = input(args.inputs, 'x');
    const reps = numbersAttr(args.attrs, 'reps');
    const rank = x.shape.length;
    if (!isHeapDtype(x.dtype) || reps.length !== rank || rank === 0) return stock(args);
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const xOff = elementOffset(backend, x);
    const out = backend.makeOutput(outShape, x.dtype);
    if (sizeOf(outShape) === 0) return out;
    const outOff = elementOffset(backend, out);
    const heap = heapFor(backend, x.dtype);
    const xStrides = [...tf.util.computeStrides(x.shape), 1];
    const outStrides = [...tf.util.computeStrides(outShape), 1];
    const fill = (dim: number, src: number, dst: number): void => {
      const n = x.shape[dim];
      if (dim === rank - 1) {
        copyRow(heap, dst, src, n);
      } else {
        for (let i = 0; i < n; i++) fill(dim + 1, src + i * xStrides[dim], dst + i * outStrides[dim]);
      }
      // The first copy of this dimension is complete: repeat it.
      replicate(heap, dst, n * outStrides[dim], reps[dim]);
    };
    fill(0, xOff, outOff);
    return out;
  };
  return { kernelName: tf.Tile, backendName: 'wasm', kernelFunc };
}
