/**
 * Concat for wasm with `copyWithin` inside the heap. The stock kernel is already in JS on heap views
 * but allocates a subarray per row and input (2 x 240k for the gradient of a CGCNN split).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { numberAttr, sizeOf } from './kernel_args.js';
import { copyRow, elementOffset, heapFor, isHeapDtype } from './wasm_memory.js';

export function makeConcatWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const backend = args.backend as BackendWasm;
    const all = Object.values(args.inputs) as TensorInfo[];
    const first = all[0];
    if (first === undefined) return stock(args);
    const dtype = first.dtype;
    const parts = all.filter((t) => sizeOf(t.shape) > 0);
    if (parts.length < 2 || !isHeapDtype(dtype) || !all.every((t) => t.dtype === dtype)) return stock(args);
    const axis = tf.util.parseAxisParam(numberAttr(args.attrs, 'axis'), first.shape)[0];
    tf.backend_util.assertParamsConsistent(
      all.map((t) => t.shape),
      axis,
    );
    const outShape = tf.backend_util.computeOutShape(
      all.map((t) => t.shape),
      axis,
    );
    const offsets = parts.map((t) => elementOffset(backend, t));
    const out = backend.makeOutput(outShape, dtype);
    const outOff = elementOffset(backend, out);
    const heap = heapFor(backend, dtype);
    const batch = sizeOf(first.shape.slice(0, axis));
    const widths = parts.map((t) => sizeOf(t.shape.slice(axis)));
    const rowWidth = widths.reduce((a, b) => a + b, 0);
    for (let b = 0; b < batch; b++) {
      let dst = outOff + b * rowWidth;
      for (let i = 0; i < parts.length; i++) {
        const w = widths[i];
        copyRow(heap, dst, offsets[i] + b * w, w);
        dst += w;
      }
    }
    return out;
  };
  return { kernelName: tf.Concat, backendName: 'wasm', kernelFunc };
}
