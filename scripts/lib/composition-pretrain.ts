/**
 * Pre-training one composition expert on one source set: MSE on z-scored targets (train-set mean/std), Adam
 * (PyTorch's form, ../adam.ts) with a cosine decay over the epoch cap, optional decoupled weight decay (AdamW),
 * shuffled mini-batches, and early stopping on the held-out split: the weights of the best validation-MAE epoch are
 * the ones returned.
 *
 * Deterministic: initialisation and shuffling come from seeded mulberry32 streams and every reduction runs on one
 * thread, so the same data, config and backend give bit-identical weights.
 */
import { tf } from '../../src/ml/tf.js';
import { Adam, cosineFactor } from '../../src/ml/adam.js';
import { shuffleInPlace, mulberry32 } from '../../src/util/random.js';
import {
  checkArchitecture,
  encoderB,
  encoderW,
  expectedShapes,
  featureStats,
  headB,
  headStack,
  headW,
  initWeights,
  INPUT_MEAN,
  INPUT_STD,
  softplusStack,
  standardize,
  INFERENCE_BATCH,
  type CompositionArchitecture,
  type DenseT,
} from '../../src/ml/composition/model.js';
import { type StateDict } from '../../src/ml/safetensors.js';

export interface PretrainConfig {
  architecture: CompositionArchitecture;
  /** Epoch cap (also the cosine period). */
  epochs: number;
  /** Stop after this many epochs without a better validation MAE. */
  patience: number;
  batchSize: number;
  lr: number;
  /** Decoupled weight decay per step, as a multiple of lr (AdamW); 0 = plain Adam. */
  weightDecay: number;
  seed: number;
}

export const PRETRAIN_DEFAULTS: Omit<PretrainConfig, 'architecture'> = {
  epochs: 100,
  patience: 15,
  batchSize: 256,
  lr: 1e-3,
  weightDecay: 0,
  seed: 0,
};

export interface PretrainData {
  /** Raw descriptors, row-major [n, input_dim]. */
  features: Float32Array;
  /** Targets in the set's unit. */
  targets: ArrayLike<number>;
  train: ArrayLike<number>;
  val: ArrayLike<number>;
}

export interface PretrainEpoch {
  epoch: number;
  trainLoss: number;
  valMae: number;
  seconds: number;
}

export interface PretrainResult {
  /** Weights of the best validation epoch, input statistics included. */
  weights: StateDict;
  targetNormalizer: { mean: number; std: number };
  bestEpoch: number;
  epochsRun: number;
  valMae: number;
  valRmse: number;
  trainMae: number;
  /** Predicting the train-set mean for every validation row: the scale val MAE is judged against. */
  baselineValMae: number;
  seconds: number;
  history: PretrainEpoch[];
}

interface Vars {
  encoder: { w: tf.Variable; b: tf.Variable }[];
  head: { w: tf.Variable; b: tf.Variable }[];
}

function asDense(v: { w: tf.Variable; b: tf.Variable }[]): DenseT[] {
  return v.map((l) => ({ w: l.w as tf.Tensor as tf.Tensor2D, b: l.b as tf.Tensor as tf.Tensor1D }));
}

/** Forward over standardised rows in inference-sized chunks; z-scored predictions. */
function predictZ(vars: Vars, xs: Float32Array, d: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length);
  const buf = new Float32Array(Math.min(INFERENCE_BATCH, rows.length) * d);
  for (let s = 0; s < rows.length; s += INFERENCE_BATCH) {
    const m = Math.min(INFERENCE_BATCH, rows.length - s);
    for (let k = 0; k < m; k++) buf.set(xs.subarray(rows[s + k] * d, (rows[s + k] + 1) * d), k * d);
    const z = tf.tidy(() => headStack(asDense(vars.head), softplusStack(asDense(vars.encoder), tf.tensor2d(buf.subarray(0, m * d), [m, d]))).dataSync());
    out.set(z, s);
  }
  return out;
}

export function checkPretrainData(data: PretrainData, d: number): number {
  const n = data.features.length / d;
  if (!Number.isInteger(n)) throw new RangeError(`${data.features.length} feature values are not rows of ${d}`);
  if (data.targets.length !== n) throw new RangeError(`${n} feature rows but ${data.targets.length} targets`);
  if (data.train.length === 0 || data.val.length === 0) throw new RangeError('pre-training needs non-empty train and validation rows');
  const seen = new Uint8Array(n);
  for (const rows of [data.train, data.val]) {
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k];
      if (!Number.isInteger(r) || r < 0 || r >= n) throw new RangeError(`row ${r} is outside 0..${n - 1}`);
      if (seen[r]) throw new RangeError(`row ${r} is named twice (train and validation must be disjoint)`);
      seen[r] = 1;
      if (!Number.isFinite(data.targets[r])) throw new RangeError(`target of row ${r} is not finite`);
    }
  }
  return n;
}

export function pretrainCompositionExpert(
  data: PretrainData,
  partial: Partial<PretrainConfig> & { architecture: CompositionArchitecture },
  onEpoch?: (e: PretrainEpoch) => void,
): PretrainResult {
  const config: PretrainConfig = { ...PRETRAIN_DEFAULTS, ...partial };
  const a = config.architecture;
  checkArchitecture(a);
  const d = a.input_dim;
  checkPretrainData(data, d);
  const t0 = performance.now();

  const stats = featureStats(data.features, d, data.train);
  const xs = standardize(data.features, stats.mean, stats.std);
  let ySum = 0;
  for (let k = 0; k < data.train.length; k++) ySum += data.targets[data.train[k]];
  const yMean = ySum / data.train.length;
  let ySq = 0;
  for (let k = 0; k < data.train.length; k++) ySq += (data.targets[data.train[k]] - yMean) ** 2;
  const yStdRaw = Math.sqrt(ySq / data.train.length);
  const yStd = yStdRaw > 0 ? yStdRaw : 1;
  const zOf = (r: number) => (data.targets[r] - yMean) / yStd;

  const init = initWeights(a, config.seed);
  // tidy disposes the initial-value tensors; the variables keep their data.
  const v2 = (name: string) => tf.tidy(() => tf.variable(tf.tensor2d(init.get(name)!.data, init.get(name)!.shape as [number, number])));
  const v1 = (name: string) => tf.tidy(() => tf.variable(tf.tensor1d(init.get(name)!.data)));
  const vars: Vars = {
    encoder: a.encoder.map((_, i) => ({ w: v2(encoderW(i)), b: v1(encoderB(i)) })),
    head: [...a.head, 1].map((_, i) => ({ w: v2(headW(i)), b: v1(headB(i)) })),
  };
  const params = [...vars.encoder, ...vars.head].flatMap((l) => [l.w, l.b]);
  const kernels = [...vars.encoder, ...vars.head].map((l) => l.w);
  const adam = new Adam([{ params, lr: config.lr }]);
  const snapshot = () => params.map((p) => (p.dataSync() as Float32Array).slice());

  try {
    const trainRows = Int32Array.from(data.train);
    const valRows = Int32Array.from(data.val);
    const rnd = mulberry32((config.seed * 2654435761 + 1) >>> 0);
    const bx = new Float32Array(config.batchSize * d);
    const by = new Float32Array(config.batchSize);
    const history: PretrainEpoch[] = [];
    let best = { mae: Infinity, epoch: -1, values: snapshot() };
    let sinceBest = 0;
    let epochsRun = 0;

    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const lrScale = cosineFactor(epoch, config.epochs);
      shuffleInPlace(trainRows, rnd);
      let lossSum = 0;
      for (let s = 0; s < trainRows.length; s += config.batchSize) {
        const m = Math.min(config.batchSize, trainRows.length - s);
        for (let k = 0; k < m; k++) {
          const r = trainRows[s + k];
          bx.set(xs.subarray(r * d, (r + 1) * d), k * d);
          by[k] = zOf(r);
        }
        const x = tf.tensor2d(bx.subarray(0, m * d), [m, d]);
        const y = tf.tensor1d(by.subarray(0, m));
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.squaredDifference(headStack(asDense(vars.head), softplusStack(asDense(vars.encoder), x)), y)) as tf.Scalar,
          params,
        );
        lossSum += value.dataSync()[0] * m;
        const gradMap = new Map<tf.Variable, tf.Tensor>();
        for (const p of params) gradMap.set(p, grads[p.name]);
        adam.step(gradMap, lrScale);
        if (config.weightDecay > 0) {
          const f = 1 - config.lr * lrScale * config.weightDecay;
          for (const w of kernels) tf.tidy(() => w.assign(tf.mul(w, f)));
        }
        tf.dispose([x, y, value, ...Object.values(grads)]);
      }
      const zVal = predictZ(vars, xs, d, valRows);
      let mae = 0;
      for (let k = 0; k < valRows.length; k++) mae += Math.abs(zVal[k] * yStd + yMean - data.targets[valRows[k]]);
      mae /= valRows.length;
      epochsRun = epoch + 1;
      const e: PretrainEpoch = { epoch, trainLoss: lossSum / trainRows.length, valMae: mae, seconds: (performance.now() - t0) / 1000 };
      history.push(e);
      onEpoch?.(e);
      if (!Number.isFinite(e.trainLoss)) throw new Error(`pre-training diverged at epoch ${epoch} (loss ${e.trainLoss})`);
      if (mae < best.mae) {
        best = { mae, epoch, values: snapshot() };
        sinceBest = 0;
      } else if (++sinceBest > config.patience) break;
    }

    params.forEach((p, i) => tf.tidy(() => p.assign(tf.tensor(best.values[i], p.shape))));
    const errors = (rows: Int32Array) => {
      const z = predictZ(vars, xs, d, rows);
      let abs = 0;
      let sq = 0;
      rows.forEach((r, k) => {
        const e = z[k] * yStd + yMean - data.targets[r];
        abs += Math.abs(e);
        sq += e * e;
      });
      return { mae: abs / rows.length, rmse: Math.sqrt(sq / rows.length) };
    };
    const val = errors(valRows);
    const train = errors(Int32Array.from(data.train));
    let baseline = 0;
    valRows.forEach((r) => {
      baseline += Math.abs(data.targets[r] - yMean);
    });

    const weights: StateDict = new Map();
    const shapes = expectedShapes(a);
    weights.set(INPUT_MEAN, { shape: shapes.get(INPUT_MEAN)!, data: stats.mean });
    weights.set(INPUT_STD, { shape: shapes.get(INPUT_STD)!, data: stats.std });
    const names = [...vars.encoder.flatMap((_, i) => [encoderW(i), encoderB(i)]), ...vars.head.flatMap((_, i) => [headW(i), headB(i)])];
    names.forEach((name, i) => weights.set(name, { shape: shapes.get(name)!, data: best.values[i] }));

    return {
      weights,
      targetNormalizer: { mean: yMean, std: yStd },
      bestEpoch: best.epoch,
      epochsRun,
      valMae: val.mae,
      valRmse: val.rmse,
      trainMae: train.mae,
      baselineValMae: baseline / valRows.length,
      seconds: (performance.now() - t0) / 1000,
      history,
    };
  } finally {
    adam.dispose();
    tf.dispose(params);
  }
}
