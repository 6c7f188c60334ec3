/**
 * Per-material uncertainty: the spread of an ensemble's members, scaled by split-conformal calibration on validation
 * rows, so that an interval at coverage c holds about c of unseen targets.
 *
 * For an input, the members' physical outputs are mapped into the calibration `space` (ln for a model whose members
 * all learned ln(y), so intervals are multiplicative and stay positive). There
 *   centre  c = mean of the members,
 *   spread  w = the members' standard deviation within their group (members trained on one split; pooled over
 *               groups), because only within-split spread can be calibrated on validation rows no member trained on,
 *   scale   σ = sqrt(w² + s0²): s0 keeps an input on which the members happen to agree from getting a zero-width
 *               interval; it is fitted on the calibration rows by Gaussian likelihood,
 *   score   |y − c| / σ on each calibration row; the interval at coverage q is c ± s_(⌈(n+1)q⌉) · σ (split conformal),
 * mapped back through the inverse transform and clamped at the property's lower bound. `uncertainty` is the half-width
 * of the calibrated 68.27 % interval in physical units: the standard deviation when errors are Gaussian.
 */
import { forwardTransform, inverseTransform, physicalValue, type MemberOutput, type TargetTransform } from '../mixture/output.js';

export const CALIBRATION_METHOD = 'ensemble-spread-split-conformal/1';
/** Coverage of ±1 standard deviation of a normal distribution: `uncertainty` is the half-width of this interval. */
const ONE_SIGMA = 0.6826894921370859;

export interface Calibration {
  method: typeof CALIBRATION_METHOD;
  /** Space of spreads, residuals and intervals: the members' common target transform, else 'none'. */
  space: TargetTransform;
  /** Floor of the spread in `space`, fitted on the calibration rows. */
  s0: number;
  /** Nonconformity scores |y − c| / σ of the calibration rows, ascending. */
  scores: number[];
  /** The property's lower bound and how outputs respect it ('log-transform': by construction; 'clamp': cut off). */
  bound: { min: number; method: 'log-transform' | 'clamp' } | null;
  /** Members per group when fitted (a spread needs two). */
  membersPerGroup: number;
}

export interface CalibratedValue {
  value: number;
  /** Standard deviation in physical units (half-width of the calibrated 68.27 % interval). */
  uncertainty: number;
  interval: [number, number];
  coverage: number;
}

/**
 * How a member enters the ensemble: its output reading and, for a blend of member groups (a shipped model's structure
 * and composition members together), its weight in the centre and spread (equal weights when absent).
 */
export type EnsembleMember = Pick<MemberOutput, 'transform' | 'min' | 'group'> & { weight?: number };

/** Raw member outputs (as `predictMixture` returns them) on some inputs, with how to read each member. */
export interface MemberPredictions {
  members: readonly EnsembleMember[];
  /** raw[m][i]: member m on input i. */
  raw: readonly ArrayLike<number>[];
}

/** Calibration rows: held-out inputs of one split predicted by the members trained on it, with physical targets. */
export interface CalibrationSet extends MemberPredictions {
  targets: ArrayLike<number>;
}

/**
 * Two groups of members as one ensemble: the structure members share `structureWeight` of it, the composition members
 * the rest, equally within each group (structure members first, as their raw outputs must be given).
 */
export function blendMembers<M extends EnsembleMember>(structure: readonly M[], composition: readonly M[], structureWeight: number): (M & { weight: number })[] {
  return [
    ...structure.map((m) => ({ ...m, weight: structureWeight / structure.length })),
    ...composition.map((m) => ({ ...m, weight: (1 - structureWeight) / composition.length })),
  ];
}

/** The members an ensemble reads: a member of weight 0 is not read at all (its value might not exist in a space). */
const readMembers = (members: readonly EnsembleMember[]) => members.filter((m) => m.weight === undefined || m.weight > 0);

/** The spaces a calibration may use: plain physical units, and the members' common transform where they share one. */
export function calibrationSpaces(all: MemberPredictions['members']): TargetTransform[] {
  const members = readMembers(all);
  const t = members[0]?.transform ?? 'none';
  return t !== 'none' && members.every((m) => m.transform === t) ? ['none', t] : ['none'];
}

/** The members' common lower bound (null when one has none), and how answers keep it in `space`. */
export function calibrationBound(all: MemberPredictions['members'], space: TargetTransform): Calibration['bound'] {
  const members = readMembers(all);
  if (members.length === 0 || members.some((m) => m.min === null)) return null;
  const min = Math.max(...members.map((m) => m.min as number));
  return { min, method: min <= 0 && space === 'log' ? 'log-transform' : 'clamp' };
}

/**
 * Centre and within-group spread of every input in `space`. Members weigh equally unless they carry weights (a blend
 * of member groups): centre Σ w·u / Σ w; spread the weighted standard deviation within each group (weights normalised
 * in the group, scaled by n/(n − 1)), pooled over groups by their n − 1. With equal weights this is the plain mean
 * and sample standard deviation, to the bit.
 */
function centreAndSpread(p: MemberPredictions, space: TargetTransform): { centre: Float64Array; spread: Float64Array } {
  const n = p.raw[0]?.length ?? 0;
  const weights = p.members.map((m) => m.weight ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  if (weights.some((w) => !(w >= 0)) || !(total > 0)) throw new RangeError('member weights must be ≥ 0 and not all 0');
  // Members of weight 0 are not read (readMembers).
  const u = p.members.map((m, j) => (weights[j] > 0 ? Float64Array.from({ length: n }, (_, i) => forwardTransform(space, physicalValue(m, p.raw[j][i]))) : null));
  const used = p.members.flatMap((_, j) => (weights[j] > 0 ? [j] : []));
  const groups = [...new Set(p.members.map((m) => m.group))].map((g) => used.filter((j) => p.members[j].group === g));
  const centre = new Float64Array(n);
  const spread = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    centre[i] = used.reduce((a, j) => a + weights[j] * u[j]![i], 0) / total;
    let ss = 0;
    let dof = 0;
    for (const js of groups) {
      if (js.length < 2) continue;
      const wg = js.reduce((a, j) => a + weights[j], 0);
      const m = js.reduce((a, j) => a + weights[j] * u[j]![i], 0) / wg;
      ss += (js.length / wg) * js.reduce((a, j) => a + weights[j] * (u[j]![i] - m) ** 2, 0);
      dof += js.length - 1;
    }
    spread[i] = dof > 0 ? Math.sqrt(ss / dof) : 0;
  }
  return { centre, spread };
}

/** The s0 that maximises the Gaussian likelihood of residuals r with σ = a·sqrt(w² + s0²) (a profiled out). */
export function fitSpreadFloor(residuals: ArrayLike<number>, spreads: ArrayLike<number>): number {
  const n = residuals.length;
  const abs = Float64Array.from(residuals, Math.abs).sort();
  const scale = Math.max(abs[Math.floor(n / 2)] ?? 0, 1e-12);
  let best = { s0: scale, nll: Infinity };
  // s0 from 1e-3 to 10 times the median absolute residual, 8 steps per decade.
  for (let k = -24; k <= 8; k++) {
    const s0 = scale * 10 ** (k / 8);
    let a2 = 0;
    for (let i = 0; i < n; i++) a2 += residuals[i] ** 2 / (spreads[i] ** 2 + s0 ** 2);
    a2 = Math.max(a2 / n, 1e-300);
    let nll = 0;
    for (let i = 0; i < n; i++) nll += Math.log(a2 * (spreads[i] ** 2 + s0 ** 2));
    if (nll < best.nll) best = { s0, nll };
  }
  return best.s0;
}

/** The calibration in one space: residuals and spreads of every set's rows, s0 by likelihood, sorted scores. */
function fitInSpace(sets: readonly CalibrationSet[], space: TargetTransform): Calibration {
  const residuals: number[] = [];
  const spreads: number[] = [];
  for (const s of sets) {
    if (s.raw.length !== s.members.length) throw new RangeError(`${s.members.length} members but ${s.raw.length} prediction rows`);
    const { centre, spread } = centreAndSpread(s, space);
    for (let i = 0; i < centre.length; i++) {
      residuals.push(forwardTransform(space, s.targets[i]) - centre[i]);
      spreads.push(spread[i]);
    }
  }
  if (residuals.length === 0) throw new RangeError('calibration needs at least one row');
  if (residuals.some((r) => !Number.isFinite(r))) throw new RangeError(`a calibration target cannot be read in the ${space} space`);
  const s0 = fitSpreadFloor(residuals, spreads);
  const scores = residuals.map((r, i) => Math.abs(r) / Math.sqrt(spreads[i] ** 2 + s0 ** 2)).sort((a, b) => a - b);
  const members = sets.flatMap((x) => x.members);
  return { method: CALIBRATION_METHOD, space, s0, scores, bound: calibrationBound(members, space), membersPerGroup: Math.min(...sets.map((x) => readMembers(x.members).length)) };
}

/** Mean width (physical units) of the 90 % intervals a calibration gives its own rows. */
function meanWidth(sets: readonly CalibrationSet[], c: Calibration): number {
  let sum = 0;
  let n = 0;
  for (const s of sets) {
    for (const v of calibratedValues(s, c, 0.9)) {
      sum += v.interval[1] - v.interval[0];
      n++;
    }
  }
  return sum / n;
}

/**
 * Fits the calibration on held-out rows, one set per split (each predicted only by the members trained on that
 * split). Members trained on ln(y) may be calibrated in ln space (multiplicative intervals) or in physical units;
 * the space whose 90 % intervals are narrower on these rows is kept: ln-space intervals suit values spread over
 * decades but explode for values near 0 (a band gap of 0.0001 eV).
 */
export function fitCalibration(sets: readonly CalibrationSet[]): Calibration {
  const members = sets.flatMap((s) => s.members);
  if (sets.length === 0 || members.length === 0) throw new RangeError('calibration needs at least one set of member predictions');
  const fits = calibrationSpaces(members).map((space) => fitInSpace(sets, space));
  if (fits.length === 1) return fits[0];
  const widths = fits.map((c) => meanWidth(sets, c));
  return widths[1] <= widths[0] ? fits[1] : fits[0];
}

/**
 * The split-conformal multiplier for `coverage`: the ⌈(n+1)·coverage⌉-th smallest score. With too few calibration
 * rows for that rank the largest score is used (the interval is then narrower than the stated coverage guarantees).
 */
export function conformalQuantile(scores: readonly number[], coverage: number): number {
  if (!(coverage > 0 && coverage < 1)) throw new RangeError(`coverage must be in (0, 1) (got ${coverage})`);
  const rank = Math.ceil((scores.length + 1) * coverage);
  return scores[Math.min(rank, scores.length) - 1];
}

/** Value, uncertainty and interval of every input from its members' raw outputs, in physical units. */
export function calibratedValues(p: MemberPredictions, calibration: Calibration, coverage = 0.9): CalibratedValue[] {
  if (p.raw.length !== p.members.length || p.members.length === 0) throw new RangeError(`${p.members.length} members but ${p.raw.length} prediction rows`);
  const { space, s0, bound } = calibration;
  const { centre, spread } = centreAndSpread(p, space);
  const q = conformalQuantile(calibration.scores, coverage);
  const q1 = conformalQuantile(calibration.scores, ONE_SIGMA);
  const back = (z: number) => {
    const y = inverseTransform(space, z);
    return bound !== null && !(y >= bound.min) ? bound.min : y;
  };
  return Array.from(centre, (c, i) => {
    const sd = Math.sqrt(spread[i] ** 2 + s0 ** 2);
    return {
      value: back(c),
      uncertainty: (back(c + q1 * sd) - back(c - q1 * sd)) / 2,
      interval: [back(c - q * sd), back(c + q * sd)] as [number, number],
      coverage,
    };
  });
}

/** Share of targets inside their intervals. */
export function intervalCoverage(values: readonly CalibratedValue[], targets: ArrayLike<number>): number {
  let inside = 0;
  values.forEach((v, i) => {
    if (targets[i] >= v.interval[0] && targets[i] <= v.interval[1]) inside++;
  });
  return values.length === 0 ? Number.NaN : inside / values.length;
}
