/**
 * GatherV2 for wasm by row blocks. The stock kernel copies element by element in C++ and reads all
 * indices through a per-element assert: 780 ms for 240k rows of 128 floats vs ~9 ms here.
 * Handles any axis with batchDims = 0; other cases go to the stock kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { input, numberAttr, sizeOf } from './kernel_args.js';
import { copyRow, elementOffset, heapFor, isHeapDtype } from './wasm_memory.js';

export function makeGatherWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const backend = args.backend as BackendWasm;
    const x = input(args.inputs, 'x');
    const indices = input(args.inputs, 'indices');
    const batchDims = args.attrs?.batchDims ?? 0;
    if (batchDims !== 0 || !isHeapDtype(x.dtype) || indices.dtype !== 'int32') return stock(args);
    const axis = tf.util.parseAxisParam(numberAttr(args.attrs, 'axis'), x.shape)[0];
    return gatherRows(backend, x, indices, axis);
  };
  return { kernelName: tf.GatherV2, backendName: 'wasm', kernelFunc };
}

function gatherRows(backend: BackendWasm, x: TensorInfo, indices: TensorInfo, axis: number): TensorInfo {
  const dim = x.shape[axis];
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const n = sizeOf(indices.shape);
  const xOff = elementOffset(backend, x);
  const idOff = elementOffset(backend, indices);
  const ids = heapFor(backend, 'int32') as Int32Array;
  for (let i = 0; i < n; i++) {
    const id = ids[idOff + i];
    if (id < 0 || id >= dim) throw new RangeError(`gather: index ${id} at position ${i} is outside [0, ${dim})`);
  }
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = backend.makeOutput(outShape, x.dtype);
  if (outer * n * inner === 0) return out;
  // Views after the allocation: it may have grown (and detached) the heap.
  const heap = heapFor(backend, x.dtype);
  const idsNow = heapFor(backend, 'int32') as Int32Array;
  const outOff = elementOffset(backend, out);
  for (let o = 0; o < outer; o++) {
    const src = xOff + o * dim * inner;
    const dst = outOff + o * n * inner;
    for (let i = 0; i < n; i++) copyRow(heap, dst + i * inner, src + idsNow[idOff + i] * inner, inner);
  }
  return out;
}
