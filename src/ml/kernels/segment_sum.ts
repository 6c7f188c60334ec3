/**
 * UnsortedSegmentSum for the wasm backend (which has none in tfjs 4.22) and a linear one for cpu
 * (the stock cpu kernel loops over segments x rows: hours for a CGCNN batch).
 *
 * Semantics as TensorFlow's: `segmentIds.shape` is a prefix of `x.shape`; output
 * `[numSegments, ...x.shape.slice(segmentIds.rank)]`. Unlike TensorFlow, which silently drops
 * negative ids, an id outside [0, numSegments) throws: in this project that is always an indexing
 * bug, and it lets the gradient be a plain gather.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { input, numberAttr, sizeOf } from './kernel_args.js';
import { elementOffset, heapFor, runWasmKernel, withShape } from './wasm_memory.js';

interface SegmentGeometry {
  rows: number;
  inner: number;
  outShape: number[];
}

function geometry(x: TensorInfo, segmentIds: TensorInfo, numSegments: number): SegmentGeometry {
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`unsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  if (segmentIds.dtype !== 'int32') throw new Error('unsortedSegmentSum: segmentIds must be int32');
  const idRank = segmentIds.shape.length;
  const prefixOk = idRank <= x.shape.length && segmentIds.shape.every((d, i) => d === x.shape[i]);
  if (!prefixOk) {
    throw new Error(
      `unsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
    );
  }
  const rest = x.shape.slice(idRank);
  return { rows: sizeOf(segmentIds.shape), inner: sizeOf(rest), outShape: [numSegments, ...rest] };
}

/** Throws on the first id outside [0, numSegments). */
export function checkSegmentIds(ids: Int32Array, offset: number, count: number, numSegments: number): void {
  for (let i = 0; i < count; i++) {
    const id = ids[offset + i];
    if (id < 0 || id >= numSegments) {
      throw new RangeError(`unsortedSegmentSum: segment id ${id} at position ${i} is outside [0, ${numSegments})`);
    }
  }
}

function readArgs(inputs: NamedTensorInfoMap, attrs: NamedAttrMap | undefined) {
  const x = input(inputs, 'x');
  const segmentIds = input(inputs, 'segmentIds');
  const numSegments = numberAttr(attrs, 'numSegments');
  return { x, segmentIds, numSegments, ...geometry(x, segmentIds, numSegments) };
}

/**
 * wasm: the C++ ScatterNd kernel zero-fills its output and adds duplicate indices, which is exactly a
 * segment sum; it runs ~4x faster than the same loop in JS (10 ms vs 42 ms for 240k x 128).
 * It does not bounds-check, hence the id check first.
 */
function segmentSumWasm({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): TensorInfo {
  const wasm = backend as BackendWasm;
  const { x, segmentIds, numSegments, rows, inner, outShape } = readArgs(inputs, attrs);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`unsortedSegmentSum: dtype ${x.dtype} is not supported`);
  }
  const idOff = elementOffset(wasm, segmentIds);
  checkSegmentIds(heapFor(wasm, 'int32') as Int32Array, idOff, rows, numSegments);
  if (rows === 0 || inner === 0 || numSegments === 0) {
    const out = wasm.makeOutput(outShape, x.dtype);
    const heap = heapFor(wasm, x.dtype);
    const o = elementOffset(wasm, out);
    heap.fill(0, o, o + sizeOf(outShape));
    return out;
  }
  const out = runWasmKernel(
    wasm,
    tf.ScatterNd,
    { indices: withShape(segmentIds, [rows, 1]), updates: withShape(x, [rows, inner]) },
    { shape: [numSegments, inner] },
  );
  out.shape = outShape;
  return out;
}

/** cpu: one pass over the rows. */
function segmentSumCpu({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): TensorInfo {
  const cpu = backend as MathBackendCPU;
  const { x, segmentIds, numSegments, rows, inner, outShape } = readArgs(inputs, attrs);
  const ids = cpu.readSync(segmentIds.dataId) as Int32Array;
  checkSegmentIds(ids, 0, rows, numSegments);
  const src = cpu.readSync(x.dataId);
  let out: Float32Array | Int32Array;
  if (x.dtype === 'float32') out = new Float32Array(numSegments * inner);
  else if (x.dtype === 'int32') out = new Int32Array(numSegments * inner);
  else throw new Error(`unsortedSegmentSum: dtype ${x.dtype} is not supported`);
  const values = src as Float32Array | Int32Array;
  for (let r = 0; r < rows; r++) {
    const d = ids[r] * inner;
    const s = r * inner;
    for (let k = 0; k < inner; k++) out[d + k] += values[s + k];
  }
  return cpu.makeTensorInfo(outShape, x.dtype, out);
}

export const segmentSumWasmConfig: KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: segmentSumWasm,
};

export const segmentSumCpuConfig: KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'cpu',
  kernelFunc: segmentSumCpu,
};
