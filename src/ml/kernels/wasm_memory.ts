/**
 * Direct access to tensors living in the wasm backend's heap, for kernels written in JS.
 *
 * Stock wasm kernels that are not in C++ (Slice, SplitV, Concat) first copy their whole input out of the
 * heap (`readSync`), and GatherV2/Tile in C++ copy element by element. Working on views of the heap and
 * moving rows with `copyWithin` (a memmove inside the same buffer) avoids both costs.
 *
 * Views must be taken after the kernel's last allocation: `makeOutput` may grow the wasm memory,
 * which detaches every typed array created before. `elementOffset` can allocate too (it moves a
 * tensor created on another backend into this one), so take the offsets of all inputs first.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';

export type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The Emscripten heap views (typed by @types/emscripten, which our tsconfig does not load). */
interface EmscriptenHeaps {
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  HEAPU8: Uint8Array;
}

/** The whole heap typed as `dtype`; index it with `elementOffset`. */
export function heapFor(backend: BackendWasm, dtype: DataType): HeapArray {
  const heaps = backend.wasm as unknown as EmscriptenHeaps;
  switch (dtype) {
    case 'float32':
      return heaps.HEAPF32;
    case 'int32':
      return heaps.HEAP32;
    case 'bool':
      return heaps.HEAPU8;
    default:
      throw new Error(`wasm heap access does not support dtype ${dtype}`);
  }
}

/** Index of the tensor's first element in `heapFor(backend, t.dtype)`. May allocate (see above). */
export function elementOffset(backend: BackendWasm, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('tensor data is not on the wasm backend');
  return data.memoryOffset / tf.util.bytesPerElement(t.dtype);
}

export function isHeapDtype(dtype: DataType): boolean {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** Same data, another shape: what the stock kernels pass to each other instead of a Reshape. */
export function withShape(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Calls a kernel currently registered for wasm (ours or stock) from inside another kernel. */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`wasm kernel ${kernelName} is not registered`);
  const out = kernel.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${kernelName} returned several outputs`);
  return out;
}

/** Releases a kernel-internal tensor (drops one reference, frees at zero). */
export function release(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/**
 * Copies `count` consecutive elements inside the heap. `copyWithin` costs a call plus a memmove; for
 * short rows a plain loop is cheaper (loop faster at 8 floats, copyWithin 3x faster at 64).
 */
export function copyRow(heap: HeapArray, dst: number, src: number, count: number): void {
  if (count >= 16) {
    heap.copyWithin(dst, src, src + count);
  } else {
    for (let k = 0; k < count; k++) heap[dst + k] = heap[src + k];
  }
}
