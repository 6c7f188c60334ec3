/**
 * Just enough of a WebAssembly binary encoder to write the few SIMD loops of simd-kernels.ts by hand: no compiler
 * targeting wasm is installed here, and the kernels need only locals, i32 address arithmetic, loops and f32x4
 * arithmetic. Every module is checked by `WebAssembly.Module` when it is built, and the kernels by tests against
 * plain-JS references.
 */

/** The WebAssembly API used here (the project compiles without the DOM typings that declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const I32 = 0x7f;
export const V128 = 0x7b;
type ValType = typeof I32 | typeof V128;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** SIMD opcodes used here (after the 0xfd prefix, LEB-encoded). */
export const SIMD = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  i32x4Splat: 0x11,
  f32x4Splat: 0x13,
  f32x4Ge: 0x46,
  bitselect: 0x52,
  i32x4Shl: 0xab,
  i32x4Sub: 0xb1,
  f32x4Abs: 0xe0,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
} as const;

/** The body of one function, written as a stack-machine instruction stream. */
export class FnBody {
  readonly bytes: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[]) {}

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  get(i: number): this {
    this.bytes.push(0x20, ...uleb(i));
    return this;
  }
  set(i: number): this {
    this.bytes.push(0x21, ...uleb(i));
    return this;
  }
  i32(v: number): this {
    this.bytes.push(0x41, ...sleb(v));
    return this;
  }
  i32Add(): this {
    return this.raw(0x6a);
  }
  i32Sub(): this {
    return this.raw(0x6b);
  }
  i32Mul(): this {
    return this.raw(0x6c);
  }
  i32Shl(): this {
    return this.raw(0x74);
  }
  /** i32.load (4-byte aligned, offset 0). */
  i32Load(): this {
    this.bytes.push(0x28, 2, 0);
    return this;
  }
  /** f32.load (4-byte aligned, offset 0). */
  f32Load(): this {
    return this.raw(0x2a, 2, 0);
  }
  simd(op: number): this {
    this.bytes.push(0xfd, ...uleb(op));
    return this;
  }
  /** v128.load / v128.store of four floats at a 4-byte aligned address (alignment hint 2^2). */
  vload(): this {
    return this.simd(SIMD.load).raw(2, 0);
  }
  vstore(): this {
    return this.simd(SIMD.store).raw(2, 0);
  }
  /** v128.const with the same float in all four lanes. */
  f32x4(v: number): this {
    const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
    return this.simd(SIMD.const).raw(...b);
  }
  /** v128.const with the same int in all four lanes. */
  i32x4(v: number): this {
    const b = new Uint8Array(new Int32Array([v, v, v, v]).buffer);
    return this.simd(SIMD.const).raw(...b);
  }
  raw(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }

  /** for (i = from; i < limit; i += step) body()  — `from`, `limit` and `step` are locals or constants. */
  loop(i: number, from: Operand, limit: Operand, step: Operand, body: () => void): this {
    this.operand(from).set(i);
    this.raw(0x02, 0x40, 0x03, 0x40); // block, loop (no result)
    this.get(i).operand(limit).raw(0x4f).raw(0x0d, 1); // i32.ge_u; br_if to the block's end
    body();
    this.get(i).operand(step).i32Add().set(i);
    this.raw(0x0c, 0, 0x0b, 0x0b); // br loop; end loop; end block
    return this;
  }

  operand(o: Operand): this {
    return typeof o === 'number' ? this.get(o) : this.i32(o.const);
  }

  /** The encoded function: locals in runs of one type, then the code and `end`. */
  encode(): number[] {
    const runs: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...uleb(runs.length), ...runs.flatMap(([n, t]) => [...uleb(n), t]), ...this.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** A local index, or an i32 constant. */
export type Operand = number | { const: number };

export interface ExportedFn {
  name: string;
  body: FnBody;
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/**
 * A module importing its memory as env.memory and exporting `fns` (no results). The functions share no state:
 * they read and write only the addresses their callers pass.
 */
export function assembleModule(fns: readonly ExportedFn[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.body.params.map((p) => [p])), 0]);
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]);
  const funcs = vec(fns.map((_, i) => uleb(i)));
  const exports = vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]));
  const code = vec(fns.map((f) => f.body.encode()));
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, code),
  ]);
}
