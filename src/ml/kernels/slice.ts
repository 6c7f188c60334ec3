/**
 * Slice and SplitV for wasm without the stock kernel's full copy of the input: the stock Slice calls
 * `readSync`, which copies the entire tensor out of the heap for every slice (SplitV of [240k,128] in
 * two: ~150 ms). Here each output row block is moved inside the heap with `copyWithin`.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { input, numberAttr, numbersAttr, sizeOf } from './kernel_args.js';
import { copyRow, elementOffset, heapFor, isHeapDtype } from './wasm_memory.js';

/** Copies the box `[begin, begin + size)` of `x` into a new tensor of shape `size`. */
export function sliceBox(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const xOff = elementOffset(backend, x);
  const out = backend.makeOutput(size, x.dtype);
  const total = sizeOf(size);
  if (total === 0) return out;
  const outOff = elementOffset(backend, out);
  const heap = heapFor(backend, x.dtype);
  const rank = x.shape.length;
  const strides = [...tf.util.computeStrides(x.shape), 1];
  // Trailing dimensions taken whole make one contiguous block per index of the leading ones.
  let d = rank - 1;
  while (d >= 0 && size[d] === x.shape[d]) d--;
  if (d < 0) {
    heap.copyWithin(outOff, xOff, xOff + total);
    return out;
  }
  const block = size[d] * strides[d];
  const blockStart = xOff + begin[d] * strides[d];
  const count = total / block;
  const idx = new Array<number>(d).fill(0);
  let base = 0;
  for (let i = 0; i < d; i++) base += begin[i] * strides[i];
  for (let c = 0; c < count; c++) {
    copyRow(heap, outOff + c * block, blockStart + base, block);
    // Odometer over dimensions 0..d-1.
    for (let i = d - 1; i >= 0; i--) {
      idx[i]++;
      base += strides[i];
      if (idx[i] < size[i]) break;
      base -= size[i] * strides[i];
      idx[i] = 0;
    }
  }
  return out;
}

export function makeSliceWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = input(args.inputs, 'x');
    if (!isHeapDtype(x.dtype)) return stock(args);
    const [begin, size] = tf.slice_util.parseSliceParams(
      x,
      numbersAttr(args.attrs, 'begin'),
      numbersAttr(args.attrs, 'size'),
    );
    return sliceBox(args.backend as BackendWasm, x, begin, size);
  };
  return { kernelName: tf.Slice, backendName: 'wasm', kernelFunc };
}

export function makeSplitVWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = input(args.inputs, 'x');
    if (!isHeapDtype(x.dtype)) return stock(args);
    const axis = tf.util.parseAxisParam(numberAttr(args.attrs, 'axis'), x.shape)[0];
    // A number means "this many equal parts", an array gives the sizes.
    const raw = args.attrs?.numOrSizeSplits;
    const spec = typeof raw === 'number' ? raw : numbersAttr(args.attrs, 'numOrSizeSplits');
    const splits = tf.backend_util.prepareSplitSize(x as tf.Tensor, spec, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return splits.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const piece = sliceBox(args.backend as BackendWasm, x, [...begin], size);
      begin[axis] += s;
      return piece;
    });
  };
  return { kernelName: tf.SplitV, backendName: 'wasm', kernelFunc };
}
