/**
 * The handful of kernels the compiled forward pass needs, behind one interface with two implementations:
 * `wasmKernels` (wasm-kernels.ts: XNNPACK matrix products called directly on the TF.js wasm heap, SIMD element-wise
 * loops) and `jsKernels` here (plain typed-array loops), used when the wasm backend is not initialised in this thread
 * (a process on the `tensorflow` backend) and as the reference the wasm kernels are tested against.
 * Activations live in `Region`s: float32 (or int32) buffers that the wasm implementation places on its heap.
 */
import { sigmoid, softplus } from './fast-math.js';

export interface Region {
  /** Elements (4 bytes each) this region holds. */
  readonly length: number;
  /** A float32 view of the region (re-taken if the wasm memory grew since the last call). */
  f32(): Float32Array;
  i32(): Int32Array;
}

/** x·W + b with W [k, n] row-major ([in, out], the layout of the mixture head and composition experts). */
export interface DenseWeights {
  k: number;
  n: number;
  w: Float32Array;
  /** null: no bias (not even a pass adding zeros). */
  b: Float32Array | null;
}

export type Activation = 'linear' | 'softplus';

/** A dense layer in the form a kernel set runs it (packed once at compile time). */
export interface PreparedDense {
  readonly k: number;
  readonly n: number;
}

/** Operands of a CGCNN conv's element-wise part; see `convCloseJs`. */
/**
 * An atom's neighbour slots that hold the same (neighbour atom, distance) add the same term: each distinct one is
 * computed once and counted (graph-chunk.ts). Atom i owns slots start[i] .. start[i + 1] − 1.
 */
export interface NeighbourSlots {
  /** [atoms + 1] int32. */
  start: Region;
  /** int32: the neighbour atom (a row of the chunk). */
  nbr: Region;
  /** int32: the row of the edge term (one per distinct distance). */
  row: Region;
  /** float32: how many of the atom's slots are this one. */
  count: Region;
}

export interface ConvCloseArgs {
  /** [distinct distances, 2A] edge term (filter | core). */
  edge: Region;
  /** [atoms, 4A] self (filter | core) and neighbour (filter | core) terms. */
  pair: Region;
  slots: NeighbourSlots;
  /** [atoms, A] layer input. */
  x: Region;
  /** [2A] BatchNorm 2 as scale | shift. */
  bn: Region;
  /** [atoms, A] layer output. */
  out: Region;
  atoms: number;
  atomFea: number;
}

export interface Kernels {
  readonly kind: 'wasm' | 'js';
  alloc(length: number): Region;
  free(r: Region): void;
  /** A region holding a copy of `data` (weights: BatchNorm vectors). */
  constant(data: Float32Array): Region;
  prepareDense(w: DenseWeights): PreparedDense;
  releaseDense(d: PreparedDense): void;
  /**
   * out[0 .. rows·n) = act(x[0 .. rows·k)·W + b), the product accumulated in float32 in input order (XNNPACK's order,
   * so the JS kernel gives the same bits) and the bias added to the finished product, as `tf.add(tf.matMul(x, W), b)`.
   */
  dense(d: PreparedDense, x: Region, rows: number, out: Region, act: Activation): void;
  convClose(a: ConvCloseArgs): void;
}

class JsRegion implements Region {
  private readonly data: Float32Array;
  constructor(readonly length: number) {
    this.data = new Float32Array(length);
  }
  f32(): Float32Array {
    return this.data;
  }
  i32(): Int32Array {
    return new Int32Array(this.data.buffer, 0, this.length);
  }
}

interface JsDense extends PreparedDense {
  /** W transposed, [n, k]: each output is a contiguous dot product. */
  wT: Float32Array;
  b: Float32Array | null;
}

const f32 = Math.fround;

/**
 * Four float32 dot products of length k, each accumulated in input order: out[o_j] = Σ_i x[xb_j + i] · wT[wb_j + i].
 * Four independent sums keep the float32 additions from waiting on each other.
 */
function dot4(x: Float32Array, wT: Float32Array, k: number, xb: readonly number[], wb: readonly number[], out: Float32Array, o: readonly number[]): void {
  const [x0, x1, x2, x3] = xb;
  const [w0, w1, w2, w3] = wb;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < k; i++) {
    s0 = f32(s0 + f32(x[x0 + i] * wT[w0 + i]));
    s1 = f32(s1 + f32(x[x1 + i] * wT[w1 + i]));
    s2 = f32(s2 + f32(x[x2 + i] * wT[w2 + i]));
    s3 = f32(s3 + f32(x[x3 + i] * wT[w3 + i]));
  }
  out[o[0]] = s0;
  out[o[1]] = s1;
  out[o[2]] = s2;
  out[o[3]] = s3;
}

/**
 * out = x·W with float32 sums in input order: bit for bit what XNNPACK's f32 GEMM (and so TF.js wasm's matMul)
 * computes. Dot products over rows of Wᵀ: four input rows sharing one weight row, and for the remaining rows four
 * outputs at a time.
 */
export function productJs(wT: Float32Array, k: number, n: number, x: Float32Array, rows: number, out: Float32Array): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const xb = [r * k, (r + 1) * k, (r + 2) * k, (r + 3) * k];
    for (let o = 0; o < n; o++) dot4(x, wT, k, xb, [o * k, o * k, o * k, o * k], out, [r * n + o, (r + 1) * n + o, (r + 2) * n + o, (r + 3) * n + o]);
  }
  for (; r < rows; r++) {
    const x0 = r * k;
    let o = 0;
    for (; o + 4 <= n; o += 4) dot4(x, wT, k, [x0, x0, x0, x0], [o * k, (o + 1) * k, (o + 2) * k, (o + 3) * k], out, [r * n + o, r * n + o + 1, r * n + o + 2, r * n + o + 3]);
    for (; o < n; o++) {
      let s = 0;
      for (let i = 0; i < k; i++) s = f32(s + f32(x[x0 + i] * wT[o * k + i]));
      out[r * n + o] = s;
    }
  }
}

/** a[r, c] ← act(a[r, c] + b[c]) (float32 add, as tf.add) for `rows` rows of n, from column `from` on. */
export function biasThenJs(a: Float32Array, b: Float32Array | null, rows: number, n: number, act: Activation, from = 0): void {
  for (let r = 0; r < rows; r++) {
    for (let c = from; c < n; c++) {
      const v = b ? f32(a[r * n + c] + b[c]) : a[r * n + c];
      a[r * n + c] = act === 'softplus' ? softplus(v) : v;
    }
  }
}

export function transpose(w: Float32Array, k: number, n: number): Float32Array {
  const t = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let o = 0; o < n; o++) t[o * k + i] = w[i * n + o];
  return t;
}

/** The element-wise part of a CGCNN conv in plain JS, the reference for the SIMD `convClose`. */
export function convCloseJs(a: ConvCloseArgs): void {
  const A = a.atomFea;
  const edge = a.edge.f32();
  const pair = a.pair.f32();
  const start = a.slots.start.i32();
  const nbr = a.slots.nbr.i32();
  const row = a.slots.row.i32();
  const count = a.slots.count.f32();
  const x = a.x.f32();
  const bn = a.bn.f32();
  const out = a.out.f32();
  const acc = new Float64Array(A);
  for (let i = 0; i < a.atoms; i++) {
    acc.fill(0);
    const pi = i * 4 * A;
    for (let s = start[i]; s < start[i + 1]; s++) {
      const e = row[s] * 2 * A;
      const pj = nbr[s] * 4 * A + 2 * A;
      for (let c = 0; c < A; c++) {
        const f = edge[e + c] + pair[pi + c] + pair[pj + c];
        const g = edge[e + A + c] + pair[pi + A + c] + pair[pj + A + c];
        acc[c] += count[s] * sigmoid(f) * softplus(g);
      }
    }
    for (let c = 0; c < A; c++) out[i * A + c] = softplus(x[i * A + c] + acc[c] * bn[c] + bn[A + c]);
  }
}

export const jsKernels: Kernels = {
  kind: 'js',
  alloc: (length) => new JsRegion(length),
  free: () => undefined,
  constant(data) {
    const r = new JsRegion(data.length);
    r.f32().set(data);
    return r;
  },
  prepareDense(w): JsDense {
    return { k: w.k, n: w.n, wT: transpose(w.w, w.k, w.n), b: w.b && Float32Array.from(w.b) };
  },
  releaseDense: () => undefined,
  dense(d, x, rows, out, act) {
    const j = d as JsDense;
    productJs(j.wT, j.k, j.n, x.f32(), rows, out.f32());
    if (j.b || act !== 'linear') biasThenJs(out.f32(), j.b, rows, j.n, act);
  },
  convClose: convCloseJs,
};
