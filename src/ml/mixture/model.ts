/**
 * The paper's mixture of experts (Chang, Wang & Ertekin 2022; rees-c/MoE `moe/model.py`, option `add_k`):
 *   θ ∈ R^n, one logit per expert for the whole task, initialised to 1;
 *   S = top-k(θ) (recomputed at every forward), p = softmax(θ_S);
 *   y = head(Σ_{j∈S} p_j · E_j(x)),  head = Linear(64→32) → softplus → Linear(32→32) → softplus → Linear(32→1);
 *   loss = MSE(y, z-scored target) + 0.01 · (Σ p_j² − 1)²  (`loss: 'l1'` uses the mean absolute error instead).
 * Pairwise transfer learning is the same model over one expert (k = 1, p = 1, no penalty); training from scratch
 * is one randomly initialised CGCNN whose layers all train.
 *
 * `MixtureModel` is the plain, serialisable result of training: the selected experts with their fine-tuned
 * weights, gate, head, normaliser and the versions of the featurisation. Prediction needs nothing else.
 */
import { tf } from '../tf.js';
import { expertKind } from '../experts/registry.js';
import type { ExpertWeights, ExpertInput } from '../experts/expert-kind.js';
import type { MixtureConfig } from './config.js';
import { headForward, type DenseLayer } from './head.js';
import type { Normalizer } from './normalizer.js';

export const MODEL_FORMAT = 'matmoe-mixture/1';

export interface MixtureModel {
  format: typeof MODEL_FORMAT;
  config: MixtureConfig;
  /** All candidate experts in gate order (config.experts, or the scratch expert's key). */
  expertKeys: string[];
  /** θ at the best validation epoch. */
  gateLogits: number[];
  /** Indices into expertKeys of the experts used, largest weight first. */
  selected: number[];
  /** softmax over the selected logits, same order as `selected`. */
  gateWeights: number[];
  /** The selected experts with their (fine-tuned) weights, same order as `selected`. */
  experts: ExpertWeights[];
  head: DenseLayer[];
  normalizer: Normalizer;
  versions: { graph: string; atomFeatures: string };
  /** Training metrics in target units (bestEpoch, valMae, testMae, ...). */
  metrics: Record<string, number>;
}

/** Every candidate expert with its weight (0 for the unselected), in gate order: what a model card shows. */
export function mixtureGate(model: MixtureModel): { key: string; weight: number; logit: number }[] {
  return model.expertKeys.map((key, i) => {
    const s = model.selected.indexOf(i);
    return { key, weight: s >= 0 ? model.gateWeights[s] : 0, logit: model.gateLogits[i] };
  });
}

export interface MixturePrediction {
  /** In target units. */
  values: Float32Array;
  /** The mixed 64-d embedding of each input, row-major. */
  embeddings: Float32Array;
}

/** Predicts target values of `inputs`. Only the selected experts run. */
export function predictMixture(model: MixtureModel, inputs: readonly ExpertInput[]): Float32Array {
  return predictMixtureDetailed(model, inputs).values;
}

export function predictMixtureDetailed(model: MixtureModel, inputs: readonly ExpertInput[]): MixturePrediction {
  const n = inputs.length;
  const dim = model.head[0].nIn;
  const mixed = new Float32Array(n * dim);
  model.experts.forEach((e, s) => {
    const emb = expertKind(e.kind).embed(e, inputs, model.config.maxBatchAtoms);
    const p = model.gateWeights[s];
    for (let i = 0; i < mixed.length; i++) mixed[i] += p * emb[i];
  });
  const values = new Float32Array(n);
  if (n === 0) return { values, embeddings: mixed };
  const y = tf.tidy(() => {
    const layers = model.head.map((l) => ({ w: tf.tensor2d(l.w, [l.nIn, l.nOut]), b: tf.tensor1d(l.b) }));
    return headForward(layers, tf.tensor2d(mixed, [n, dim])).dataSync();
  });
  for (let i = 0; i < n; i++) values[i] = y[i] * model.normalizer.std + model.normalizer.mean;
  return { values, embeddings: mixed };
}
