/**
 * Gate initialisation by linear probes. With equal starting logits, top-k first tries the experts that come first in
 * the tie order and only moves on when their logits sink, so with many candidates (29 when both kinds join) the
 * right expert may never be tried. A probe asks each expert, before training, how well a ridge regression on its
 * frozen 64-d embedding predicts the task on the training rows, scored on the validation rows (which already choose
 * the best epoch). Experts whose embeddings carry the target start with the largest logits.
 */
import type { TrainableExpert } from '../experts/expert-kind.js';

/** Validation MAE (in z-scored target units) of a ridge probe on each expert's embedding. */
export function probeExperts(experts: readonly TrainableExpert[], train: Int32Array, val: Int32Array, z: (row: number) => number, chunk = 256): number[] {
  return experts.map((e) => {
    const embed = (rows: Int32Array): Float64Array => {
      const out = new Float64Array(rows.length * e.dim);
      for (let s = 0; s < rows.length; s += chunk) {
        const part = rows.subarray(s, Math.min(rows.length, s + chunk));
        const t = e.embed({ rows: part }, false);
        out.set(t.dataSync(), s * e.dim);
        t.dispose();
      }
      return out;
    };
    const w = fitRidge(embed(train), Float64Array.from(train, z), e.dim);
    const xv = embed(val);
    let mae = 0;
    val.forEach((r, i) => {
      mae += Math.abs(predictRidge(w, xv.subarray(i * e.dim, (i + 1) * e.dim)) - z(r));
    });
    return mae / val.length;
  });
}

/**
 * Starting logits from probe MAEs: the best expert gets 1 (the paper's starting value) and every `temperature` of
 * extra z-scored MAE costs one unit of logit, so softmax weights among the first selected reflect the probes.
 */
export function probeLogits(maes: readonly number[], temperature = 0.1): number[] {
  return probeLogitsByGroup(maes, maes.map(() => ''), temperature);
}

/**
 * Probe logits ranked within each group (expert kind): the best expert of every group starts at 1. A frozen probe
 * favours composition experts, whose embeddings were pre-trained on far more rows, over crystal-graph experts that
 * gain more from fine-tuning; ranked together, the gate can start and stay on composition experts alone.
 */
export function probeLogitsByGroup(maes: readonly number[], groups: readonly string[], temperature = 0.1): number[] {
  const best = new Map<string, number>();
  maes.forEach((m, i) => best.set(groups[i], Math.min(m, best.get(groups[i]) ?? Infinity)));
  return maes.map((m, i) => 1 - (m - best.get(groups[i])!) / temperature);
}

interface Ridge {
  mean: Float64Array;
  std: Float64Array;
  coef: Float64Array;
  bias: number;
}

/** Ridge regression on standardised columns (λ = 1 per column, in units of one training row). */
export function fitRidge(x: Float64Array, y: Float64Array, d: number, lambda = 1): Ridge {
  const n = y.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) std[j] += (x[i * d + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  const ym = y.reduce((a, b) => a + b, 0) / n;
  // Normal equations (XᵀX + λI) w = Xᵀy on standardised X and centred y.
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] - mean[j]) / std[j];
    const yi = y[i] - ym;
    for (let j = 0; j < d; j++) {
      b[j] += row[j] * yi;
      for (let k = 0; k <= j; k++) a[j * d + k] += row[j] * row[k];
    }
  }
  for (let j = 0; j < d; j++) {
    a[j * d + j] += lambda;
    for (let k = 0; k < j; k++) a[k * d + j] = a[j * d + k];
  }
  return { mean, std, coef: solveSpd(a, b, d), bias: ym };
}

export function predictRidge(r: Ridge, x: ArrayLike<number>): number {
  let s = r.bias;
  for (let j = 0; j < r.coef.length; j++) s += ((x[j] - r.mean[j]) / r.std[j]) * r.coef[j];
  return s;
}

/** Solves A w = b for symmetric positive definite A (Cholesky). */
function solveSpd(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= l[j * d + k] ** 2;
    l[j * d + j] = Math.sqrt(Math.max(s, 1e-12));
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = t / l[j * d + j];
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * d + k] * z[k];
    z[i] = s / l[i * d + i];
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * w[k];
    w[i] = s / l[i * d + i];
  }
  return w;
}
