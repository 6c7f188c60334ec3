/**
 * The shape of a training target, which decides the candidate recipes that can apply: a log transform only for a
 * positive (or non-negative, via ln(1+y)) skewed target, an MSE loss for a heavy-tailed one, and a lower bound of 0
 * when no target is negative. Read from training and validation rows (never test rows).
 */
import { forwardTransform, type TargetTransform } from '../mixture/output.js';

export interface TargetProfile {
  rows: number;
  min: number;
  max: number;
  /** Rows exactly 0. */
  zeros: number;
  /** Fisher skewness of the physical values. */
  skewness: number;
  /** Excess kurtosis in the space the data arrive in (see `targetProfile`). */
  excessKurtosis: number;
}

/** Skewness above which a positive target is offered a log transform (1 = "highly skewed" by the usual rule). */
export const SKEWED = 1;
/** Excess kurtosis above which a target counts as heavy-tailed and is offered an MSE loss (a normal has 0). */
export const HEAVY_TAILED = 10;

function moments(v: readonly number[]): { skewness: number; excessKurtosis: number } {
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const m2 = v.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  if (!(m2 > 0)) return { skewness: 0, excessKurtosis: 0 };
  const m3 = v.reduce((a, b) => a + (b - mean) ** 3, 0) / n;
  const m4 = v.reduce((a, b) => a + (b - mean) ** 4, 0) / n;
  return { skewness: m3 / m2 ** 1.5, excessKurtosis: m4 / m2 ** 2 - 3 };
}

/**
 * Profile of physical targets. Kurtosis is measured after `nativeTransform` (the transform the data's own
 * convention applies, e.g. ln for the paper's phonon peaks): a tail that ln already tames is not heavy.
 */
export function targetProfile(values: readonly number[], nativeTransform: TargetTransform = 'none'): TargetProfile {
  if (values.length === 0) throw new RangeError('no training targets to profile');
  let min = Infinity;
  let max = -Infinity;
  let zeros = 0;
  for (const y of values) {
    if (y < min) min = y;
    if (y > max) max = y;
    if (y === 0) zeros++;
  }
  return {
    rows: values.length,
    min,
    max,
    zeros,
    skewness: moments(values).skewness,
    excessKurtosis: moments(values.map((y) => forwardTransform(nativeTransform, y))).excessKurtosis,
  };
}

/** The log-type transform a positive, skewed target is offered: ln for y > 0, ln(1+y) for y ≥ 0 with zeros; else null. */
export function logTransformFor(p: TargetProfile): { transform: TargetTransform | null; reason: string } {
  if (p.min < 0) return { transform: null, reason: `targets go below 0 (min ${p.min.toPrecision(3)})` };
  if (p.skewness <= SKEWED) return { transform: null, reason: `targets are not skewed (skewness ${p.skewness.toFixed(2)} ≤ ${SKEWED})` };
  return p.min > 0 ? { transform: 'log', reason: 'positive, skewed targets' } : { transform: 'log1p', reason: 'non-negative, skewed targets with zeros' };
}

export function isHeavyTailed(p: TargetProfile): boolean {
  return p.excessKurtosis > HEAVY_TAILED;
}
