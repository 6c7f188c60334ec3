/** Typed reads of kernel inputs and attributes (the registry hands them over untyped). */
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

export function input(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`kernel input '${name}' is missing`);
  return t;
}

export function numberAttr(attrs: NamedAttrMap | undefined, name: string): number {
  const v = attrs?.[name];
  if (typeof v !== 'number') throw new Error(`kernel attribute '${name}' must be a number`);
  return v;
}

export function numbersAttr(attrs: NamedAttrMap | undefined, name: string): number[] {
  const v = attrs?.[name];
  if (typeof v === 'number') return [v];
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'number')) {
    throw new Error(`kernel attribute '${name}' must be a number or number[]`);
  }
  return v as number[];
}

export function boolAttr(attrs: NamedAttrMap | undefined, name: string): boolean {
  return attrs?.[name] === true;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
