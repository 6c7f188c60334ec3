/**
 * The paper's gate (rees-c/MoE `moe/model.py`, option `add_k`): one logit per expert for the whole task, top-k, then
 * softmax over the selected logits; and its penalty (Σ p² − 1)², which pushes toward one expert.
 */
import { tf } from '../tf.js';
import { mulberry32, shuffleInPlace } from '../../util/random.js';
import type { MixtureConfig } from './config.js';

/**
 * Indices of the k largest logits, largest first. Ties go to the lower `tieRank` (default: the lower index).
 * All logits start equal, so the tie order decides which experts are tried first; torch.topk leaves it unspecified.
 */
export function topK(logits: ArrayLike<number>, k: number, tieRank?: ArrayLike<number>): number[] {
  const idx = Array.from({ length: logits.length }, (_, i) => i);
  idx.sort((a, b) => logits[b] - logits[a] || (tieRank ? tieRank[a] - tieRank[b] : a - b));
  return idx.slice(0, k);
}

/** The tie order of a run: expert order, or a permutation drawn from the seed. */
export function gateTieRank(n: number, mode: MixtureConfig['gateTieBreak'], seed: number): Int32Array {
  const rank = Int32Array.from({ length: n }, (_, i) => i);
  if (mode === 'index') return rank;
  shuffleInPlace(rank, mulberry32((seed ^ 0x7a11e5) >>> 0));
  return rank;
}

export function softmax(v: readonly number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export interface GateState {
  selected: number[];
  weights: number[];
}

export function gateState(logits: ArrayLike<number>, k: number, tieRank?: ArrayLike<number>): GateState {
  const selected = topK(logits, k, tieRank);
  return { selected, weights: softmax(selected.map((i) => logits[i])) };
}

/** (Σ p² − 1)²: 0 when one expert takes all the weight. */
export function gatePenalty(p: readonly number[]): number {
  const s = p.reduce((a, x) => a + x * x, 0);
  return (s - 1) ** 2;
}

/** Σ_j p_j E_j with p = softmax(θ_S): the gather of the selected logits is a one-hot product, so only they get gradients. */
export function mixEmbeddings(gateLogits: tf.Tensor1D, selected: readonly number[], embeddings: readonly tf.Tensor2D[]): { mixed: tf.Tensor2D; p: tf.Tensor1D } {
  return tf.tidy(() => {
    const n = gateLogits.shape[0];
    const oneHot = new Float32Array(selected.length * n);
    selected.forEach((j, r) => {
      oneHot[r * n + j] = 1;
    });
    const logitsSel = tf.reshape(tf.matMul(tf.tensor2d(oneHot, [selected.length, n]), tf.reshape(gateLogits, [n, 1])), [selected.length]);
    const p = tf.softmax(logitsSel) as tf.Tensor1D;
    let mixed = tf.mul(embeddings[0], tf.slice(p, [0], [1])) as tf.Tensor2D;
    for (let r = 1; r < embeddings.length; r++) mixed = tf.add(mixed, tf.mul(embeddings[r], tf.slice(p, [r], [1]))) as tf.Tensor2D;
    return { mixed, p };
  });
}

export function penaltyTensor(p: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.square(tf.sub(tf.sum(tf.square(p)), 1)) as tf.Scalar);
}
