/**
 * Reading an ensemble on inputs: every member's raw outputs, and the calibrated value / uncertainty / interval in
 * physical units with the error and interval coverage on targets (held-out rows, for reports).
 */
import type { ExpertInput } from '../experts/expert-kind.js';
import { predictMixture, type MixtureModel } from '../mixture/model.js';
import { memberOutput, type Basis } from '../mixture/output.js';
import { calibratedValues, intervalCoverage, type CalibratedValue, type Calibration } from '../uncertainty/calibration.js';

/** The members that serve a basis ('structure' members need a graph, 'composition' members read formulas). */
export function membersOfBasis(members: readonly MixtureModel[], basis: Basis): MixtureModel[] {
  return members.filter((m) => memberOutput(m).basis === basis);
}

/** raw[m][i] = `predictMixture` of member m on input i. */
export function memberRawOutputs(members: readonly MixtureModel[], inputs: readonly ExpertInput[]): Float32Array[] {
  return members.map((m) => predictMixture(m, inputs));
}

/** Calibrated predictions of an ensemble's members on `inputs`. */
export function predictCalibrated(members: readonly MixtureModel[], calibration: Calibration, inputs: readonly ExpertInput[], coverage = 0.9): CalibratedValue[] {
  return calibratedValues({ members: members.map(memberOutput), raw: memberRawOutputs(members, inputs) }, calibration, coverage);
}

export interface HeldOutReport {
  /** MAE of the calibrated value, physical units. */
  mae: number;
  /** Share of targets inside the interval. */
  coverage: number;
  /** Mean interval width, physical units. */
  meanWidth: number;
  values: CalibratedValue[];
}

/** Error and interval coverage on held-out rows (physical targets). */
export function heldOutReport(values: readonly CalibratedValue[], targets: ArrayLike<number>): HeldOutReport {
  const n = values.length;
  const mae = values.reduce((a, v, i) => a + Math.abs(v.value - targets[i]), 0) / n;
  const meanWidth = values.reduce((a, v) => a + (v.interval[1] - v.interval[0]), 0) / n;
  return { mae, coverage: intervalCoverage(values, targets), meanWidth, values: [...values] };
}
