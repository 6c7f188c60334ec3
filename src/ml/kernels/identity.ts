/**
 * Identity, and Cast to the same dtype, for wasm without copying: tensors are immutable, so the output
 * can share the input's buffer under one more reference (what Reshape does, and what the cpu backend's
 * Identity does). The stock kernels copy the whole tensor; tfjs-core's gradients of Multiply,
 * RealDiv, Square, ... call `cast(x, 'float32')` on float32 inputs, i.e. a full copy per use.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { input } from './kernel_args.js';
import { isHeapDtype } from './wasm_memory.js';

function share(backend: BackendWasm, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export function makeIdentityWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = input(args.inputs, 'x');
    if (!isHeapDtype(x.dtype)) return stock(args);
    return share(args.backend as BackendWasm, x);
  };
  return { kernelName: tf.Identity, backendName: 'wasm', kernelFunc };
}

export function makeCastWasm(stock: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = input(args.inputs, 'x');
    if (!isHeapDtype(x.dtype) || args.attrs?.dtype !== x.dtype) return stock(args);
    return share(args.backend as BackendWasm, x);
  };
  return { kernelName: tf.Cast, backendName: 'wasm', kernelFunc };
}
