/**
 * The composition expert: an MLP over the composition descriptors of src/chem/descriptors.ts.
 *
 *   x = (descriptors − mean) / std            (train-set statistics, stored with the weights)
 *   h = softplus(x·W₀ + b₀) … softplus(·)     (encoder; its last width is the 64-d embedding)
 *   y = softplus(e·H₀ + c₀) → ·H₁ + c₁        (the expert's own head, z-scored target)
 *
 * The embedding is a softplus output like the CGCNN experts' `softplus(pooled)`, so both kinds hand the mixture
 * non-negative 64-d vectors. Weights are kept [in, out] (x·W): on wasm a transposed matmul is ~10x slower.
 */
import { type NamedTensor, type StateDict } from '../safetensors.js';
import { tf } from '../tf.js';
import { mulberry32 } from '../../util/random.js';

export const EMBEDDING_DIM = 64;
export const ARCHITECTURE_TYPE = 'composition-mlp';

export interface CompositionArchitecture {
  type: typeof ARCHITECTURE_TYPE;
  /** Descriptor count (featureCount of the featurizer). */
  input_dim: number;
  /** Encoder widths; the last is the embedding (64). */
  encoder: number[];
  /** Hidden widths of the expert's own head (then one output). */
  head: number[];
  activation: 'softplus';
}

/** The zoo's architecture (docs/composition-experts.md: chosen over 256-64 and 512-256-64 by validation MAE per second). */
export const DEFAULT_ENCODER: readonly number[] = [256, 128, EMBEDDING_DIM];
export const DEFAULT_HEAD: readonly number[] = [32];

export function defaultArchitecture(inputDim: number, encoder: readonly number[] = DEFAULT_ENCODER, head: readonly number[] = DEFAULT_HEAD): CompositionArchitecture {
  return { type: ARCHITECTURE_TYPE, input_dim: inputDim, encoder: [...encoder], head: [...head], activation: 'softplus' };
}

export const INPUT_MEAN = 'input.mean';
export const INPUT_STD = 'input.std';
export const encoderW = (i: number): string => `encoder.${i}.weight`;
export const encoderB = (i: number): string => `encoder.${i}.bias`;
export const headW = (i: number): string => `head.${i}.weight`;
export const headB = (i: number): string => `head.${i}.bias`;

/** Layer shapes, input statistics included, in a fixed order. */
export function expectedShapes(a: CompositionArchitecture): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set(INPUT_MEAN, [a.input_dim]);
  m.set(INPUT_STD, [a.input_dim]);
  let d = a.input_dim;
  a.encoder.forEach((w, i) => {
    m.set(encoderW(i), [d, w]);
    m.set(encoderB(i), [w]);
    d = w;
  });
  [...a.head, 1].forEach((w, i) => {
    m.set(headW(i), [d, w]);
    m.set(headB(i), [w]);
    d = w;
  });
  return m;
}

export function checkArchitecture(a: CompositionArchitecture): void {
  const ints = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0 && x <= 8192);
  if (a?.type !== ARCHITECTURE_TYPE || a.activation !== 'softplus' || !Number.isInteger(a.input_dim) || a.input_dim <= 0 || !ints(a.encoder) || !ints(a.head)) {
    throw new Error(`architecture ${JSON.stringify(a)} is not a composition MLP this service implements`);
  }
  if (a.encoder.length === 0 || a.encoder[a.encoder.length - 1] !== EMBEDDING_DIM) {
    throw new Error(`a composition expert's encoder must end in the ${EMBEDDING_DIM}-d embedding (got ${JSON.stringify(a.encoder)})`);
  }
}

/** Throws unless `sd` holds exactly the tensors of `a`, with finite values and positive input std. */
export function checkWeights(sd: StateDict, a: CompositionArchitecture): void {
  checkArchitecture(a);
  const want = expectedShapes(a);
  for (const [name, shape] of want) {
    const t = sd.get(name);
    if (!t) throw new Error(`composition weights lack ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`composition weights: ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    if (t.data.length !== shape.reduce((x, y) => x * y, 1)) throw new Error(`composition weights: ${name} has ${t.data.length} values for shape [${shape}]`);
    if (!t.data.every(Number.isFinite)) throw new Error(`composition weights: ${name} holds a non-finite value`);
  }
  for (const name of sd.keys()) if (!want.has(name)) throw new Error(`composition weights hold an unexpected tensor ${name}`);
  if (!sd.get(INPUT_STD)!.data.every((s) => s > 0)) throw new Error('composition weights: input.std must be positive');
}

/**
 * Fresh weights: Glorot-uniform kernels and zero biases from a seeded stream, identity input statistics.
 * (Glorot keeps the softplus activations of the 544-wide standardised input at unit scale.)
 */
export function initWeights(a: CompositionArchitecture, seed: number): StateDict {
  checkArchitecture(a);
  const rnd = mulberry32(seed ^ 0xc0401);
  const sd: StateDict = new Map();
  for (const [name, shape] of expectedShapes(a)) {
    const data = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (name === INPUT_STD) data.fill(1);
    else if (name.endsWith('.weight')) {
      const bound = Math.sqrt(6 / (shape[0] + shape[1]));
      for (let i = 0; i < data.length; i++) data[i] = (rnd() * 2 - 1) * bound;
    }
    sd.set(name, { shape: [...shape], data });
  }
  return sd;
}

export function cloneWeights(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) out.set(k, { shape: [...v.shape], data: Float32Array.from(v.data) });
  return out;
}

/**
 * Column statistics of row-major [n, d] features over `rows`: mean and population std (float64 sums); a column
 * that is constant over those rows gets std 1, so it passes through centred instead of dividing by zero.
 */
export function featureStats(x: Float32Array, d: number, rows: ArrayLike<number>): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(d);
  const sq = new Float64Array(d);
  const n = rows.length;
  if (n === 0) throw new Error('cannot fit feature statistics on no rows');
  for (let k = 0; k < n; k++) {
    const off = rows[k] * d;
    for (let j = 0; j < d; j++) sum[j] += x[off + j];
  }
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = sum[j] / n;
  for (let k = 0; k < n; k++) {
    const off = rows[k] * d;
    for (let j = 0; j < d; j++) {
      const v = x[off + j] - mean[j];
      sq[j] += v * v;
    }
  }
  const std = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(sq[j] / n);
    // Relative threshold: columns such as AtomicWeight have means in the hundreds.
    std[j] = s > 1e-6 * Math.max(1, Math.abs(mean[j])) ? s : 1;
  }
  return { mean: Float32Array.from(mean), std };
}

/** (x − mean) / std into a new row-major [n, d] array. */
export function standardize(x: Float32Array, mean: Float32Array, std: Float32Array): Float32Array {
  const d = mean.length;
  if (x.length % d !== 0) throw new RangeError(`${x.length} values are not rows of ${d} features`);
  const out = new Float32Array(x.length);
  for (let off = 0; off < x.length; off += d) for (let j = 0; j < d; j++) out[off + j] = (x[off + j] - mean[j]) / std[j];
  return out;
}

export interface DenseT {
  w: tf.Tensor2D;
  b: tf.Tensor1D;
}

/** softplus(x·W + b) through `layers`. */
export function softplusStack(layers: readonly DenseT[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  for (const l of layers) h = tf.softplus(tf.add(tf.matMul(h, l.w), l.b)) as tf.Tensor2D;
  return h;
}

/** The expert's head: softplus after every layer but the last; [B, 64] → [B]. */
export function headStack(layers: readonly DenseT[], e: tf.Tensor2D): tf.Tensor1D {
  let h = e;
  layers.forEach((l, i) => {
    h = tf.add(tf.matMul(h, l.w), l.b) as tf.Tensor2D;
    if (i + 1 < layers.length) h = tf.softplus(h) as tf.Tensor2D;
  });
  return tf.reshape(h, [-1]) as tf.Tensor1D;
}

export interface ModelTensors {
  encoder: DenseT[];
  head: DenseT[];
}

export function modelTensors(sd: StateDict, a: CompositionArchitecture): ModelTensors {
  const t2 = (n: NamedTensor) => tf.tensor2d(n.data, n.shape as [number, number]);
  const t1 = (n: NamedTensor) => tf.tensor1d(n.data);
  return {
    encoder: a.encoder.map((_, i) => ({ w: t2(sd.get(encoderW(i))!), b: t1(sd.get(encoderB(i))!) })),
    head: [...a.head, 1].map((_, i) => ({ w: t2(sd.get(headW(i))!), b: t1(sd.get(headB(i))!) })),
  };
}

export function disposeModelTensors(t: ModelTensors): void {
  tf.dispose([...t.encoder, ...t.head].flatMap((l) => [l.w, l.b]));
}

/** Rows per forward pass at inference: bounded memory, and large enough that per-call overhead vanishes. */
export const INFERENCE_BATCH = 4096;

/**
 * Embeddings ([n, 64]) and, with `withHead`, the head's z-scored outputs ([n]) of raw descriptor rows.
 * Standardisation happens here with the statistics stored in the weights.
 */
export function runModel(sd: StateDict, a: CompositionArchitecture, features: Float32Array, withHead: boolean): { embeddings: Float32Array; z: Float32Array } {
  const d = a.input_dim;
  const n = features.length / d;
  if (!Number.isInteger(n)) throw new RangeError(`${features.length} values are not rows of ${d} features`);
  const embeddings = new Float32Array(n * EMBEDDING_DIM);
  const z = new Float32Array(withHead ? n : 0);
  if (n === 0) return { embeddings, z };
  const x = standardize(features, sd.get(INPUT_MEAN)!.data, sd.get(INPUT_STD)!.data);
  const t = modelTensors(sd, a);
  try {
    for (let s = 0; s < n; s += INFERENCE_BATCH) {
      const m = Math.min(INFERENCE_BATCH, n - s);
      tf.tidy(() => {
        const e = softplusStack(t.encoder, tf.tensor2d(x.subarray(s * d, (s + m) * d), [m, d]));
        embeddings.set(e.dataSync(), s * EMBEDDING_DIM);
        if (withHead) z.set(headStack(t.head, e).dataSync(), s);
      });
    }
  } finally {
    disposeModelTensors(t);
  }
  return { embeddings, z };
}
