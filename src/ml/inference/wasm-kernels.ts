/**
 * Kernels on the TF.js wasm backend's heap without going through tfjs-core's op dispatch:
 * - dense layers call the backend's exported `_FusedMatMul` (XNNPACK fully-connected, no bias) on tensor ids
 *   registered once: ~0.3 µs per call instead of ~20 µs per op through the engine, 30-43 GFLOP/s (docs/inference.md);
 *   bias and softplus follow in TF.js's order and with its own Sigmoid and Log kernels, so the bits are predictMixture's;
 * - the rest of the element-wise work (bias passes, the CGCNN gate loop) runs in the SIMD module of simd-kernels.ts,
 *   which imports the same memory.
 * Buffers are allocated with the backend's own `write`/`disposeData`, so its allocator and tensor-id registry stay
 * consistent; tfjs-core's engine never sees them (tf.memory() does not count them).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { biasThenJs, type Activation, type ConvCloseArgs, type DenseWeights, type Kernels, type PreparedDense, type Region } from './kernels.js';
import { simdKernels, type SimdKernels } from './simd-kernels.js';
import type { WasmMemory } from './wasm-asm.js';

/** The parts of the Emscripten module of tfjs-backend-wasm 4.22 used here (not in its published typings). */
interface WasmModule {
  asm: { memory: WasmMemory };
  _malloc(bytes: number): number;
  /**
   * tfjs::wasm::batchMatMul: (a_id, a_shape*, a_rank, b_id, b_shape*, b_rank, transpose_a, transpose_b, activation,
   * bias_id, prelu_id, leakyrelu_alpha, out_id). With untransposed rank-3 shapes [1, rows, k] · [1, k, n] it takes the
   * XNNPACK path, whose operator (packed weights) is cached per weights id and freed when that id is disposed.
   */
  __FusedMatMul(...args: number[]): void;
  /** tfjs::wasm Sigmoid (XNNPACK): (x_id, out_id) over the whole registered x. */
  _Sigmoid(x: number, out: number): void;
  /** tfjs::wasm Log (libm logf): (x_id, dtype, out_id). */
  _Log(x: number, dtype: number, out: number): void;
  tfjs: { disposeData(id: number): void };
}

/** float32 in tfjs-backend-wasm's CppDType enum. */
const FLOAT32 = 0;

class HeapRegion implements Region {
  private f32View: Float32Array | null = null;
  private i32View: Int32Array | null = null;
  /** Tensor ids registered over the first `count` elements (the TF.js element-wise kernels process whole tensors). */
  readonly views = new Map<number, { dataId: object; id: number }>();

  constructor(
    private readonly memory: WasmMemory,
    readonly dataId: object,
    readonly id: number,
    readonly byteOffset: number,
    readonly length: number,
  ) {}

  f32(): Float32Array {
    // A growing wasm memory replaces its buffer and detaches views of the old one.
    if (this.f32View === null || this.f32View.buffer !== this.memory.buffer) this.f32View = new Float32Array(this.memory.buffer, this.byteOffset, this.length);
    return this.f32View;
  }

  i32(): Int32Array {
    if (this.i32View === null || this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer, this.byteOffset, this.length);
    return this.i32View;
  }
}

interface WasmDense extends PreparedDense {
  w: HeapRegion;
  b: HeapRegion | null;
  /** The bias as a JS array, for the columns past the last whole SIMD vector. */
  bias: Float32Array | null;
}

/** Linear activation in tfjs-backend-wasm's FusableActivation enum (the bias is added afterwards, see Kernels.dense). */
const LINEAR = 0;

class WasmKernels implements Kernels {
  readonly kind = 'wasm';
  private readonly module: WasmModule;
  private readonly memory: WasmMemory;
  private readonly simd: SimdKernels;
  /** Six u32 on the heap: the shapes [1, rows, k] and [1, k, n] that `_FusedMatMul` reads. */
  private readonly shapes: number;

  constructor(private readonly backend: BackendWasm) {
    this.module = backend.wasm as unknown as WasmModule;
    this.memory = this.module.asm.memory;
    this.simd = simdKernels(this.memory);
    this.shapes = this.module._malloc(24);
  }

  alloc(length: number): HeapRegion {
    // Whole SIMD vectors: kernels may touch up to the next multiple of 4 elements.
    const n = Math.max(4, Math.ceil(length / 4) * 4);
    const dataId = this.backend.write(null, [n], 'float32');
    const d = this.backend.dataIdMap.get(dataId);
    if (d === undefined) throw new Error('wasm backend did not register a buffer it wrote');
    return new HeapRegion(this.memory, dataId, d.id, d.memoryOffset, n);
  }

  free(r: Region): void {
    const h = r as HeapRegion;
    for (const v of h.views.values()) {
      // a view shares the region's memory: unregister it without freeing
      this.module.tfjs.disposeData(v.id);
      this.backend.dataIdMap.delete(v.dataId);
    }
    h.views.clear();
    this.backend.disposeData(h.dataId);
  }

  /** A tensor id over the first `count` elements of `r`, registered once per (region, count). */
  private view(r: HeapRegion, count: number): number {
    let v = r.views.get(count);
    if (!v) {
      const info = this.backend.makeOutput([count], 'float32', r.byteOffset);
      v = { dataId: info.dataId, id: this.backend.dataIdMap.get(info.dataId)!.id };
      r.views.set(count, v);
    }
    return v.id;
  }

  private scratchAbs: HeapRegion | null = null;
  private scratchSig: HeapRegion | null = null;

  private scratch(count: number): [HeapRegion, HeapRegion] {
    if (!this.scratchAbs || this.scratchAbs.length < count) {
      if (this.scratchAbs) this.free(this.scratchAbs);
      if (this.scratchSig) this.free(this.scratchSig);
      this.scratchAbs = this.alloc(count);
      this.scratchSig = this.alloc(count);
    }
    return [this.scratchAbs, this.scratchSig!];
  }

  constant(data: Float32Array): Region {
    const r = this.alloc(data.length);
    r.f32().set(data);
    return r;
  }

  prepareDense(d: DenseWeights): WasmDense {
    return { k: d.k, n: d.n, w: this.constant(d.w) as HeapRegion, b: d.b && (this.constant(d.b) as HeapRegion), bias: d.b && Float32Array.from(d.b) };
  }

  releaseDense(d: PreparedDense): void {
    const w = d as WasmDense;
    this.free(w.w);
    if (w.b) this.free(w.b);
  }

  dense(d: PreparedDense, x: Region, rows: number, out: Region, act: Activation): void {
    if (rows === 0) return;
    const w = d as WasmDense;
    if (x.length < rows * w.k || out.length < rows * w.n) throw new RangeError(`dense ${w.k}→${w.n} on ${rows} rows: buffer too small`);
    const s = new Uint32Array(this.memory.buffer, this.shapes, 6);
    s[0] = 1;
    s[1] = rows;
    s[2] = w.k;
    s[3] = 1;
    s[4] = w.k;
    s[5] = w.n;
    this.module.__FusedMatMul((x as HeapRegion).id, this.shapes, 3, w.w.id, this.shapes + 12, 3, 0, 0, LINEAR, 0, 0, 0, (out as HeapRegion).id);
    if (w.n % 4 !== 0) {
      // widths that are not whole vectors (only the mixture head's last layer, n = 1, which is linear): plain JS
      if (w.b || act !== 'linear') biasThenJs(out.f32(), w.bias, rows, w.n, act);
      return;
    }
    const o = out as HeapRegion;
    if (act === 'linear') {
      if (w.b) this.simd.biasAdd(o.byteOffset, w.b.byteOffset, rows, w.n);
      return;
    }
    // softplus exactly as TF.js wasm computes it (kernels/softplus.ts): relu(x) − log(sigmoid(|x|)), with the backend's
    // own Sigmoid (XNNPACK) and Log (libm) kernels, so that composition experts and heads give predictMixture's bits.
    const count = rows * w.n;
    const [abs, sig] = this.scratch(count);
    const absId = this.view(abs, count);
    const sigId = this.view(sig, count);
    this.simd.biasAddAbs(o.byteOffset, w.b?.byteOffset ?? this.zeros(w.n), rows, w.n, abs.byteOffset);
    this.module._Sigmoid(absId, sigId);
    this.module._Log(sigId, FLOAT32, absId);
    this.simd.reluMinus(o.byteOffset, abs.byteOffset, count);
  }

  private zeroRegion: HeapRegion | null = null;

  /** Byte address of at least n zero floats (a softplus layer without bias). */
  private zeros(n: number): number {
    if (!this.zeroRegion || this.zeroRegion.length < n) {
      if (this.zeroRegion) this.free(this.zeroRegion);
      this.zeroRegion = this.constant(new Float32Array(n)) as HeapRegion;
    }
    return this.zeroRegion.byteOffset;
  }

  convClose(a: ConvCloseArgs): void {
    if (a.atomFea % 4 !== 0) throw new RangeError(`convClose needs a multiple of 4 atom features, got ${a.atomFea}`);
    const off = (r: Region) => (r as HeapRegion).byteOffset;
    const s = a.slots;
    this.simd.convClose(off(a.edge), off(a.pair), off(a.x), off(a.bn), off(a.out), a.atoms, a.atomFea, off(s.start), off(s.nbr), off(s.row), off(s.count));
  }
}

const bound = new WeakMap<object, WasmKernels>();

/** Kernels on the wasm backend of this thread, or undefined when that backend has not been initialised here. */
export function wasmKernels(): Kernels | undefined {
  const backend = (tf.engine().registry as Record<string, unknown>).wasm as BackendWasm | undefined;
  if (backend === undefined || backend.wasm == null) return undefined;
  let k = bound.get(backend);
  if (!k) {
    k = new WasmKernels(backend);
    bound.set(backend, k);
  }
  return k;
}
