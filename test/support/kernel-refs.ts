/** Plain-JS float64 references and random inputs for the kernel tests (test/ml/kernels.test.ts). */
import assert from 'node:assert/strict';

export const BACKENDS = ['cpu', 'wasm'] as const;
export const TOL = 1e-5;

/** Deterministic uniform numbers in [-1, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

export function randArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, r);
}

export function randInts(n: number, max: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(((r() + 1) / 2) * max));
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Calls f with every multi-index of shape, in row-major order. */
export function forEachIndex(shape: number[], f: (idx: number[], flat: number) => void): void {
  const n = size(shape);
  const st = strides(shape);
  for (let flat = 0; flat < n; flat++) f(shape.map((d, i) => Math.floor(flat / st[i]) % d), flat);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = TOL): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: error ${worst} at ${at} (got ${actual[at]}, want ${expected[at]})`);
}

// ---- references (float64) ----

export function segmentSumRef(x: Float32Array, rowLen: number, ids: Int32Array, numSegments: number): Float64Array {
  const out = new Float64Array(numSegments * rowLen);
  ids.forEach((s, r) => {
    for (let k = 0; k < rowLen; k++) out[s * rowLen + k] += x[r * rowLen + k];
  });
  return out;
}

export function gatherRef(x: Float32Array, shape: number[], indices: Int32Array, axis: number): Float64Array {
  const outer = size(shape.slice(0, axis));
  const dim = shape[axis];
  const inner = size(shape.slice(axis + 1));
  const out = new Float64Array(outer * indices.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const id of indices) {
      for (let k = 0; k < inner; k++) out[o++] = x[(a * dim + id) * inner + k];
    }
  }
  return out;
}

export function matMulRef(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean) {
  const [ar, ac] = aShape;
  const [br, bc] = bShape;
  const m = tA ? ac : ar;
  const k = tA ? ar : ac;
  const n = tB ? br : bc;
  const at = (i: number, j: number) => (tA ? a[j * ac + i] : a[i * ac + j]);
  const bt = (i: number, j: number) => (tB ? b[j * bc + i] : b[i * bc + j]);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      out[i * n + j] = s;
    }
  }
  return out;
}

export function sumRef(x: Float32Array, shape: number[], axes: number[]): Float64Array {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const os = strides(outShape);
  const out = new Float64Array(size(outShape));
  forEachIndex(shape, (idx, flat) => {
    out[idx.reduce((acc, v, i) => acc + (axes.includes(i) ? 0 : v * os[i]), 0)] += x[flat];
  });
  return out;
}

export function tileRef(x: Float32Array, shape: number[], reps: number[]): Float64Array {
  const outShape = shape.map((d, i) => d * reps[i]);
  const xs = strides(shape);
  const out = new Float64Array(size(outShape));
  forEachIndex(outShape, (idx, flat) => {
    out[flat] = x[idx.reduce((acc, v, i) => acc + (v % shape[i]) * xs[i], 0)];
  });
  return out;
}

export function sliceRef(x: Float32Array, shape: number[], begin: number[], sz: number[]): Float64Array {
  const xs = strides(shape);
  const out = new Float64Array(size(sz));
  forEachIndex(sz, (idx, flat) => {
    out[flat] = x[idx.reduce((acc, v, i) => acc + (v + begin[i]) * xs[i], 0)];
  });
  return out;
}

export function transpose2(v: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}
