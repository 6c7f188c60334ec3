/**
 * What a member's raw output means. `predictMixture` returns values in the space the member was trained in (the
 * normaliser undone, the target transform not): a member trained on ln(y) answers ln(y). Everything a user sees is in
 * the property's physical unit, so the transform is undone here, on top of the raw outputs, and the property's
 * physical lower bound (e.g. 0 for a band gap) is enforced the same way for every member.
 */
import type { MixtureModel } from './model.js';

export const TARGET_TRANSFORMS = ['none', 'log', 'log1p'] as const;
/** 'log' = ln(y) for y > 0; 'log1p' = ln(1 + y) for y ≥ 0 with zeros (the paper's piezoelectric target). */
export type TargetTransform = (typeof TARGET_TRANSFORMS)[number];

/** Which inputs a member serves: 'structure' members need a crystal graph, 'composition' members read formulas. */
export type Basis = 'structure' | 'composition';

export function forwardTransform(t: TargetTransform, y: number): number {
  return t === 'log' ? Math.log(y) : t === 'log1p' ? Math.log1p(y) : y;
}

/**
 * |t(pred) − t(y)|, with a prediction outside t's domain (a clamped 0 under ln, ≤ −1 under ln(1+y)) moved just inside
 * it: a large, finite error, so that an MAE of such rows still compares instead of turning to NaN.
 */
export function errorOnScale(t: TargetTransform, pred: number, y: number): number {
  const floor = t === 'log' ? Number.MIN_VALUE : t === 'log1p' ? -1 + Number.EPSILON : -Infinity;
  return Math.abs(forwardTransform(t, Math.max(pred, floor)) - forwardTransform(t, y));
}

export function inverseTransform(t: TargetTransform, z: number): number {
  return t === 'log' ? Math.exp(z) : t === 'log1p' ? Math.expm1(z) : z;
}

/** Why physical targets cannot be trained under `t` (a non-positive value under ln), or null when they can. */
export function transformProblem(t: TargetTransform, values: Iterable<number>): string | null {
  for (const y of values) {
    if (t === 'log' && !(y > 0)) return `the ln transform needs targets > 0 (found ${y})`;
    if (t === 'log1p' && !(y > -1)) return `the ln(1+y) transform needs targets > -1 (found ${y})`;
  }
  return null;
}

/**
 * The task data of the paper stores some targets already transformed (../shared/data/tasks/index.json `transform`:
 * "ln", "ln(1+x)"); this maps that label to the transform that reads them back.
 */
export function transformOfLabel(label: string | null | undefined): TargetTransform {
  if (label === null || label === undefined || label === '' || label === '–') return 'none';
  if (label === 'ln' || label === 'log') return 'log';
  if (label === 'ln(1+x)' || label === 'log1p') return 'log1p';
  throw new RangeError(`unknown target transform "${label}"`);
}

/** How to read one member's raw outputs; every field has a default, so checkpoints written before they existed read as before. */
export interface MemberOutput {
  transform: TargetTransform;
  /** Physical lower bound clamped to, or null. */
  min: number | null;
  /** Members trained on the same data split share a group (uncertainty pools the spread within groups). */
  group: number;
  basis: Basis;
}

/**
 * The reading of a member, from its config. A checkpoint from before these fields means: no transform, no bound,
 * one group, and the basis its selected experts need (any crystal-graph expert needs a structure).
 */
export function memberOutput(model: Pick<MixtureModel, 'config' | 'experts'>): MemberOutput {
  const c = model.config as Partial<MixtureModel['config']>;
  return {
    transform: c.targetTransform ?? 'none',
    min: c.targetMin ?? null,
    group: c.ensembleGroup ?? 0,
    basis: c.basis ?? (model.experts.some((e) => e.kind !== 'composition') ? 'structure' : 'composition'),
  };
}

/** A raw output in physical units: transform undone, then clamped to the lower bound. */
export function physicalValue(out: Pick<MemberOutput, 'transform' | 'min'>, raw: number): number {
  const y = inverseTransform(out.transform, raw);
  return out.min !== null && y < out.min ? out.min : y;
}

/** `physicalValue` over a member's raw outputs (what `predictMixture` returned). */
export function physicalValues(out: Pick<MemberOutput, 'transform' | 'min'>, raw: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: raw.length }, (_, i) => physicalValue(out, raw[i]));
}
