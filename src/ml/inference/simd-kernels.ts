/**
 * The element-wise parts of the compiled forward pass as WebAssembly SIMD (f32x4) loops that run directly on the
 * TF.js wasm heap (they import its memory), next to the XNNPACK matrix products:
 *   biasAdd, biasAddAbs,      a dense layer's bias after its XNNPACK product, and the JS-side steps of a softplus
 *   reluMinus                 that reproduces TF.js's bit for bit (see wasm-kernels.ts);
 *   softplus, sigmoid         in place over n floats (n a multiple of 4; for tests);
 *   convClose(...)            the non-matmul part of a CGCNN conv: gather, gate, neighbour sum, BatchNorm 2 and the
 *                             residual softplus (see `convCloseJs` in kernels.ts for the same in plain JS).
 * Why: in JS a sigmoid·softplus pair costs ~25 ns (Math.exp and Math.log1p are not vectorised), so a conv on a
 * 20-site crystal (240 edges × 64 channels) spent ~0.4 ms there; here it is a few ns per pair.
 * exp uses Cephes' float32 range reduction (2^k·e^s, |s| ≤ ln2/2, Taylor to s⁷) and log1p(t) = 2·atanh(t/(2+t));
 * both are within a few float32 ulps (tests compare them with Math.* in float64).
 */
import { assembleModule, FnBody, I32, SIMD, V128, wasmApi, type WasmMemory } from './wasm-asm.js';

const LOG2E = 1.4426950408889634;
/** ln 2 = C1 + C2 with C1 exactly representable in 9 bits, so k·C1 is exact (Cephes expf). */
const C1 = 0.693359375;
const C2 = -2.12194440e-4;
/** e^-87 ≈ 1.6e-38 is still a normal float32; larger arguments are clamped (softplus then reads ~1e-38, not 0). */
const EXP_CLAMP = 87;
/**
 * 1.5·2^23: adding it rounds a float in [0, 2^22) to the nearest integer k and leaves k in the low mantissa bits, so
 * one add replaces a round and a float→int conversion (both several instructions on x64).
 */
const ROUND_MAGIC = 12582912;

interface Temps {
  a: number;
  k: number;
  s: number;
  u: number;
  v: number;
  x: number;
  y: number;
  e: number;
}

function temps(f: FnBody): Temps {
  return { a: f.local(V128), k: f.local(V128), s: f.local(V128), u: f.local(V128), v: f.local(V128), x: f.local(V128), y: f.local(V128), e: f.local(V128) };
}

/** Pushes e^-a for the a ≥ 0 that `push` leaves on the stack. */
function expNeg(f: FnBody, t: Temps, push: () => void): void {
  push();
  // pmin/pmax are single instructions; min/max add NaN handling that finite inputs never need
  f.f32x4(EXP_CLAMP).simd(SIMD.f32x4Pmin).set(t.a);
  f.get(t.a).f32x4(LOG2E).simd(SIMD.f32x4Mul).f32x4(ROUND_MAGIC).simd(SIMD.f32x4Add).set(t.e);
  f.get(t.e).f32x4(ROUND_MAGIC).simd(SIMD.f32x4Sub).set(t.k);
  // s = k·ln2 − a, so that e^-a = 2^-k · e^s
  f.get(t.k).f32x4(C1).simd(SIMD.f32x4Mul).get(t.a).simd(SIMD.f32x4Sub).get(t.k).f32x4(C2).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(t.s);
  f.f32x4(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) f.get(t.s).simd(SIMD.f32x4Mul).f32x4(c).simd(SIMD.f32x4Add);
  // 2^-k as float bits: (127 − k) << 23, 0 ≤ k ≤ 126; k << 23 = bits(k + magic) << 23 (the magic's bits shift out)
  f.i32x4(127 << 23).get(t.e).i32(23).simd(SIMD.i32x4Shl).simd(SIMD.i32x4Sub);
  f.simd(SIMD.f32x4Mul);
}

/** Pushes log(1 + t) for the t in [0, 1] that `push` leaves on the stack: 2u(1 + u²/3 + … + u¹⁴/15), u = t/(2+t). */
function log1pUnit(f: FnBody, t: Temps, push: () => void): void {
  push();
  f.set(t.u);
  f.get(t.u).get(t.u).f32x4(2).simd(SIMD.f32x4Add).simd(SIMD.f32x4Div).set(t.u);
  f.get(t.u).get(t.u).simd(SIMD.f32x4Mul).set(t.v);
  f.f32x4(1 / 15);
  for (const c of [1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1]) f.get(t.v).simd(SIMD.f32x4Mul).f32x4(c).simd(SIMD.f32x4Add);
  f.get(t.u).get(t.u).simd(SIMD.f32x4Add).simd(SIMD.f32x4Mul);
}

/** Pushes softplus(x) = max(x, 0) + log1p(e^-|x|). */
function softplus(f: FnBody, t: Temps, push: () => void): void {
  push();
  f.set(t.x);
  f.get(t.x).f32x4(0).simd(SIMD.f32x4Pmax);
  log1pUnit(f, t, () => expNeg(f, t, () => f.get(t.x).simd(SIMD.f32x4Abs)));
  f.simd(SIMD.f32x4Add);
}

/** Pushes sigmoid(y) = (y ≥ 0 ? 1 : e) / (1 + e), e = e^-|y|. */
function sigmoid(f: FnBody, t: Temps, push: () => void): void {
  push();
  f.set(t.y);
  expNeg(f, t, () => f.get(t.y).simd(SIMD.f32x4Abs));
  f.set(t.e);
  f.f32x4(1).get(t.e).get(t.y).f32x4(0).simd(SIMD.f32x4Ge).simd(SIMD.bitselect);
  f.f32x4(1).get(t.e).simd(SIMD.f32x4Add).simd(SIMD.f32x4Div);
}

/** (ptr, n): a[i] ← op(a[i]) for n floats from byte address ptr. */
function inPlace(op: typeof softplus): FnBody {
  const f = new FnBody([I32, I32]);
  const [ptr, n] = [0, 1];
  const end = f.local(I32);
  const p = f.local(I32);
  const t = temps(f);
  f.get(ptr).get(n).i32(2).i32Shl().i32Add().set(end);
  f.loop(p, ptr, end, { const: 16 }, () => {
    f.get(p);
    op(f, t, () => f.get(p).vload());
    f.vstore();
  });
  return f;
}

/**
 * (ptr, bias, rows, n[, abs]): a[r, c] ← a[r, c] + bias[c] over rows × n floats (n a multiple of 4), and with `abs`
 * also abs[r, c] ← |a[r, c]|. The bias is added after the product (XNNPACK runs without one) because that is the order
 * of predictMixture's `tf.add(tf.matMul(…), b)`: with standardised descriptors of a few thousand σ the partial sums
 * are large and the order decides the last bits, which a head with a large target std turns into 1e-5 differences.
 */
function biasAdd(withAbs: boolean): FnBody {
  const f = new FnBody(withAbs ? [I32, I32, I32, I32, I32] : [I32, I32, I32, I32]);
  const [ptr, bias, rows, n, abs] = [0, 1, 2, 3, 4];
  const [rowBytes, end, p, c, v] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(V128)];
  f.get(n).i32(2).i32Shl().set(rowBytes);
  f.get(ptr).get(rows).get(rowBytes).i32Mul().i32Add().set(end);
  f.loop(p, ptr, end, rowBytes, () => {
    f.loop(c, { const: 0 }, rowBytes, { const: 16 }, () => {
      f.get(p).get(c).i32Add().vload().get(bias).get(c).i32Add().vload().simd(SIMD.f32x4Add).set(v);
      f.get(p).get(c).i32Add().get(v).vstore();
      if (withAbs) f.get(abs).get(p).i32Add().get(c).i32Add().get(ptr).i32Sub().get(v).simd(SIMD.f32x4Abs).vstore();
    });
  });
  return f;
}

/** (ptr, other, n): a[i] ← max(a[i], 0) − other[i], the last step of TF.js wasm's softplus relu(x) − log(sigmoid(|x|)). */
function reluMinus(): FnBody {
  const f = new FnBody([I32, I32, I32]);
  const [ptr, other, n] = [0, 1, 2];
  const [end, p, q] = [f.local(I32), f.local(I32), f.local(I32)];
  f.get(ptr).get(n).i32(2).i32Shl().i32Add().set(end);
  f.get(other).set(q);
  f.loop(p, ptr, end, { const: 16 }, () => {
    f.get(p).get(p).vload().f32x4(0).simd(SIMD.f32x4Pmax).get(q).vload().simd(SIMD.f32x4Sub).vstore();
    f.get(q).i32(16).i32Add().set(q);
  });
  return f;
}

/** Pushes the sum of the v128 loads at (base_k + c) for the local pairs given. */
function loadSum(f: FnBody, addrs: readonly (readonly number[])[]): void {
  addrs.forEach((parts, i) => {
    f.get(parts[0]);
    for (const p of parts.slice(1)) f.get(p).i32Add();
    f.vload();
    if (i > 0) f.simd(SIMD.f32x4Add);
  });
}

/**
 * convClose(e, p, x, bn, out, nAtoms, A, slotStart, slotNbr, slotRow, slotCount), byte addresses, A a multiple of 4:
 *   e   [rows, 2A]      edge features · W_edge (filter | core), BatchNorm 1 folded in, one row per distinct distance
 *   p   [nAtoms, 4A]    x · [W_self | W_nbr] + [b | 0] (self filter | self core | neighbour filter | neighbour core)
 *   x   [nAtoms, A]     the layer's input;  bn [2A] BatchNorm 2 as scale | shift
 *   slots of atom i     slotStart[i] .. slotStart[i + 1] − 1 (i32): neighbour atom slotNbr, row of e slotRow, and
 *                       slotCount (f32), how many of the atom's neighbour slots hold that same (neighbour, distance)
 *   out[i] = softplus(x_i + scale·Σ_slots count·sigmoid(f)·softplus(c) + shift)
 */
function convClose(): FnBody {
  const f = new FnBody([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [eP, pP, xP, bnP, outP, nAtoms, A, startP, nbrP, rowP, countP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [A4, A8, A16, i, slot, slotEnd, c, eRow, eRowC, pi, piC, pj, pjC, oRow, xRow, bnC] = Array.from({ length: 16 }, () => f.local(I32));
  const count = f.local(V128);
  const t = temps(f);
  const at = (base: number, index: number) => f.get(base).get(index).i32(2).i32Shl().i32Add();
  f.get(A).i32(2).i32Shl().set(A4);
  f.get(A4).i32(1).i32Shl().set(A8);
  f.get(A4).i32(2).i32Shl().set(A16);
  f.loop(i, { const: 0 }, nAtoms, { const: 1 }, () => {
    f.get(outP).get(i).get(A4).i32Mul().i32Add().set(oRow);
    f.get(xP).get(i).get(A4).i32Mul().i32Add().set(xRow);
    f.get(pP).get(i).get(A16).i32Mul().i32Add().set(pi);
    f.get(pi).get(A4).i32Add().set(piC);
    f.loop(c, { const: 0 }, A4, { const: 16 }, () => {
      f.get(oRow).get(c).i32Add().f32x4(0).vstore();
    });
    at(startP, i).i32(4).i32Add().i32Load().set(slotEnd);
    at(startP, i).i32Load();
    f.set(slot);
    f.loop(slot, slot, slotEnd, { const: 1 }, () => {
      f.get(eP);
      at(rowP, slot).i32Load().get(A8).i32Mul().i32Add().set(eRow);
      f.get(eRow).get(A4).i32Add().set(eRowC);
      f.get(pP);
      at(nbrP, slot).i32Load().get(A16).i32Mul().i32Add().get(A8).i32Add().set(pj);
      f.get(pj).get(A4).i32Add().set(pjC);
      at(countP, slot).f32Load().simd(SIMD.f32x4Splat).set(count);
      f.loop(c, { const: 0 }, A4, { const: 16 }, () => {
        f.get(oRow).get(c).i32Add();
        f.get(oRow).get(c).i32Add().vload();
        sigmoid(f, t, () => loadSum(f, [[eRow, c], [pi, c], [pj, c]]));
        softplus(f, t, () => loadSum(f, [[eRowC, c], [piC, c], [pjC, c]]));
        f.simd(SIMD.f32x4Mul).get(count).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).vstore();
      });
    });
    f.loop(c, { const: 0 }, A4, { const: 16 }, () => {
      f.get(bnP).get(A4).i32Add().get(c).i32Add().set(bnC);
      f.get(oRow).get(c).i32Add();
      softplus(f, t, () => {
        f.get(xRow).get(c).i32Add().vload();
        f.get(oRow).get(c).i32Add().vload().get(bnP).get(c).i32Add().vload().simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add);
        f.get(bnC).vload().simd(SIMD.f32x4Add);
      });
      f.vstore();
    });
  });
  return f;
}

export interface SimdKernels {
  biasAdd(ptr: number, bias: number, rows: number, n: number): void;
  biasAddAbs(ptr: number, bias: number, rows: number, n: number, abs: number): void;
  reluMinus(ptr: number, other: number, n: number): void;
  softplus(ptr: number, n: number): void;
  sigmoid(ptr: number, n: number): void;
  convClose(
    e: number, p: number, x: number, bn: number, out: number, nAtoms: number, atomFea: number,
    slotStart: number, slotNbr: number, slotRow: number, slotCount: number,
  ): void;
}

let compiled: object | undefined;

/** The kernels bound to `memory` (the TF.js wasm heap). The module is compiled once per thread. */
export function simdKernels(memory: WasmMemory): SimdKernels {
  compiled ??= new wasmApi.Module(
    assembleModule([
      { name: 'biasAdd', body: biasAdd(false) },
      { name: 'biasAddAbs', body: biasAdd(true) },
      { name: 'reluMinus', body: reluMinus() },
      { name: 'softplus', body: inPlace(softplus) },
      { name: 'sigmoid', body: inPlace(sigmoid) },
      { name: 'convClose', body: convClose() },
    ]),
  );
  const exports = new wasmApi.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
  return { biasAdd: exports.biasAdd, biasAddAbs: exports.biasAddAbs, reluMinus: exports.reluMinus, softplus: exports.softplus, sigmoid: exports.sigmoid, convClose: exports.convClose };
}
