/**
 * Where a stored model keeps its calibration: `metrics.calibration`, one per basis (the structure members and the
 * composition members are calibrated apart). Written by the zoo for shipped models and by fine-tune jobs; a model
 * stored before calibration existed has none and is answered uncalibrated.
 */
import type { Basis } from '../ml/mixture/output.js';
import { CALIBRATION_METHOD, type Calibration } from '../ml/uncertainty/calibration.js';

export type ModelCalibrations = Partial<Record<Basis, Calibration>>;

function isCalibration(x: unknown): x is Calibration {
  const c = x as Partial<Calibration> | null;
  return typeof c === 'object' && c !== null && c.method === CALIBRATION_METHOD && typeof c.s0 === 'number' &&
    Array.isArray(c.scores) && c.scores.length > 0 && c.scores.every((s) => typeof s === 'number') && typeof c.space === 'string';
}

export function calibrationsOf(metrics: Record<string, unknown>): ModelCalibrations {
  const stored = metrics.calibration as Record<string, unknown> | undefined;
  const out: ModelCalibrations = {};
  for (const basis of ['structure', 'composition'] as const) {
    const c = stored?.[basis];
    if (c === undefined) continue;
    if (!isCalibration(c)) throw new Error(`the stored calibration of the ${basis} members is not one this version reads`);
    out[basis] = c;
  }
  return out;
}

/**
 * `metrics.blend` (shipped models, `npm run zoo:blend`): a crystal is answered by the structure members with share
 * `structureWeight` and the composition members with the rest, under the blend's own calibration. Null when the model
 * has none, or when validation kept the structure members alone (weight 1).
 */
export interface ModelBlend {
  structureWeight: number;
  calibration: Calibration;
}

/** The stored blend, checked, whatever its weight. */
function storedBlend(metrics: Record<string, unknown>): ModelBlend | null {
  const b = metrics.blend as { structureWeight?: unknown; calibration?: unknown } | null | undefined;
  if (b === undefined || b === null) return null;
  const w = b.structureWeight;
  if (typeof w !== 'number' || !(w >= 0 && w <= 1) || !isCalibration(b.calibration)) throw new Error('the stored blend of structure and composition members is not one this version reads');
  return { structureWeight: w, calibration: b.calibration };
}

export function blendOf(metrics: Record<string, unknown>): ModelBlend | null {
  const b = storedBlend(metrics);
  return b && b.structureWeight < 1 ? b : null;
}

const summaryOf = (c: Calibration) => ({ method: c.method, space: c.space, s0: c.s0, calibrationRows: c.scores.length, bound: c.bound, membersPerGroup: c.membersPerGroup });

/** The calibration as a model card shows it: without its (long) list of scores. */
export function calibrationSummary(metrics: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(calibrationsOf(metrics)).map(([basis, c]) => [basis, summaryOf(c)]));
}

/** The blend as a model card shows it: the weight, how it was chosen, its test report and calibration summary. */
export function blendSummary(metrics: Record<string, unknown>): Record<string, unknown> {
  const b = storedBlend(metrics);
  return { ...(metrics.blend as Record<string, unknown>), calibration: b ? summaryOf(b.calibration) : null };
}
