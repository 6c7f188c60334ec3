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
import { cgcnnKind } from '../cgcnn/trainable.js';
import { compositionKind } from '../composition/kind.js';
import { mulberry32, shuffleInPlace } from '../../util/random.js';
import type { ExpertKind, ExpertWeights, MaterialInput } from '../experts/expert-kind.js';
import type { Normalizer } from './normalizer.js';

export const EXPERT_KINDS: Readonly<Record<string, ExpertKind>> = { cgcnn: cgcnnKind, composition: compositionKind };

export function expertKind(kind: string): ExpertKind {
  const k = EXPERT_KINDS[kind];
  if (!k) throw new Error(`unknown expert kind "${kind}"`);
  return k;
}

export type MixtureMode = 'mixture' | 'pairwise' | 'scratch';

export interface MixtureConfig {
  mode: MixtureMode;
  /** Expert keys in gate order; mixture default: all shipped experts; pairwise: exactly one. */
  experts: string[];
  /** Experts mixed per forward (paper code default 2). */
  k: number;
  /** Trainable last layers per expert (paper: 1 = last conv); 0 freezes the experts. */
  finetuneLayers: number;
  /**
   * `finetuneLayers` of one expert kind, where it differs (e.g. `{ composition: 3 }`). Alone, a composition expert
   * transfers best with all three encoder layers trained, but in a probe-initialised mixture the last layer alone is
   * better (expt_bandgap 0.364 vs 0.377 eV with two layers; docs/benchmarks.md), so the default is none.
   */
  finetuneLayersByKind: Record<string, number>;
  /** Training loss on the z-scored target: 'mse' (the paper) or 'l1' (what the reported MAE measures). */
  loss: 'mse' | 'l1';
  /**
   * Epochs at the start in which every candidate expert is mixed (k = all), so that every gate logit gets
   * gradients before top-k picks; 0 = the paper (top-k from the first step).
   */
  gateWarmup: number;
  /**
   * Starting gate logits: 'equal' (all 1, the paper), 'probe' (ranked by a ridge probe of each expert's frozen
   * embedding, gate-probe.ts) or 'probe-kinds' (ranked within each expert kind, so the best of every kind starts first).
   */
  gateInit: GateInit;
  /** BatchNorm of fine-tuned layers in training steps: 'batch' (PyTorch train mode, as the paper) or 'running'. */
  batchNorm: 'batch' | 'running';
  /**
   * BatchNorm statistics of the frozen layers: 'target' re-estimates them on the training split (what the paper's
   * `model.train()` does to its frozen experts), 'source' keeps each expert's own.
   */
  frozenBatchNorm: 'source' | 'target';
  /** Hidden widths of the head (paper: 32, 32). */
  headHidden: number[];
  lr: number;
  finetuneLr: number;
  /** Weight of (Σp² − 1)². */
  penalty: number;
  batchSize: number;
  epochs: number;
  /** Stop after this many epochs without a better validation MAE. */
  patience: number;
  /** CosineAnnealingLR period in epochs (paper: 1000 = epochs). */
  cosineTMax: number;
  seed: number;
  /** Atom budget of one forward pass outside training steps (wasm heap). */
  maxBatchAtoms: number;
  /** Merge symmetry-equivalent atoms and neighbour slots on this distance grid (Å) when one layer trains; null = off. */
  dedupeTolerance: number | null;
  /**
   * Order among equal gate logits (all start at 1), which decides the experts tried first: 'index' = expert order,
   * what PyTorch's CUDA topk does (it fills ties with the first indices seen); 'seeded' = a permutation drawn from
   * the seed.
   */
  gateTieBreak: 'seeded' | 'index';
}

export const GATE_INITS = ['equal', 'probe', 'probe-kinds'] as const;
export type GateInit = (typeof GATE_INITS)[number];

export const PAPER_DEFAULTS: Omit<MixtureConfig, 'experts' | 'cosineTMax'> = {
  mode: 'mixture',
  k: 2,
  finetuneLayers: 1,
  finetuneLayersByKind: {},
  loss: 'mse',
  gateWarmup: 0,
  gateInit: 'equal',
  batchNorm: 'batch',
  frozenBatchNorm: 'source',
  headHidden: [32, 32],
  lr: 1e-2,
  finetuneLr: 5e-3,
  penalty: 0.01,
  batchSize: 250,
  epochs: 1000,
  patience: 500,
  seed: 0,
  maxBatchAtoms: 16384,
  dedupeTolerance: 1e-4,
  gateTieBreak: 'index',
};

/** Trainable layers of an expert of `kind` under `config`. */
export function finetuneLayersOf(config: Pick<MixtureConfig, 'finetuneLayers' | 'finetuneLayersByKind'>, kind: string): number {
  return config.finetuneLayersByKind?.[kind] ?? config.finetuneLayers;
}

/** Fills defaults and checks ranges; `available` are the expert keys that can be used, in their canonical order. */
export function resolveConfig(partial: Partial<MixtureConfig>, available: readonly string[]): MixtureConfig {
  const mode = partial.mode ?? PAPER_DEFAULTS.mode;
  let experts = partial.experts ?? (mode === 'mixture' ? [...available] : mode === 'scratch' ? ['cgcnn_scratch'] : []);
  if (mode !== 'mixture') {
    if (experts.length !== 1) throw new RangeError(`${mode} training uses exactly one expert (got ${experts.length})`);
  }
  if (experts.length === 0) throw new RangeError('a mixture needs at least one expert');
  if (new Set(experts).size !== experts.length) throw new RangeError('expert keys repeat');
  if (mode !== 'scratch') {
    for (const e of experts) if (!available.includes(e)) throw new RangeError(`unknown expert "${e}" (available: ${available.join(', ')})`);
  }
  experts = [...experts];
  const epochs = partial.epochs ?? PAPER_DEFAULTS.epochs;
  const cfg: MixtureConfig = {
    ...PAPER_DEFAULTS,
    ...partial,
    mode,
    experts,
    k: mode === 'mixture' ? (partial.k ?? PAPER_DEFAULTS.k) : 1,
    finetuneLr: partial.finetuneLr ?? (mode === 'scratch' ? (partial.lr ?? PAPER_DEFAULTS.lr) : PAPER_DEFAULTS.finetuneLr),
    epochs,
    cosineTMax: partial.cosineTMax ?? epochs,
    headHidden: [...(partial.headHidden ?? PAPER_DEFAULTS.headHidden)],
    finetuneLayersByKind: { ...(partial.finetuneLayersByKind ?? PAPER_DEFAULTS.finetuneLayersByKind) },
  };
  const int = (name: keyof MixtureConfig, v: number, lo: number, hi = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${v})`);
  };
  int('k', cfg.k, 1, experts.length);
  int('finetuneLayers', cfg.finetuneLayers, 0, 4);
  for (const [kind, n] of Object.entries(cfg.finetuneLayersByKind)) {
    if (!(kind in EXPERT_KINDS)) throw new RangeError(`finetuneLayersByKind names an unknown expert kind "${kind}"`);
    int('finetuneLayers', n, 0, 4);
  }
  int('gateWarmup', cfg.gateWarmup, 0, cfg.epochs);
  int('batchSize', cfg.batchSize, 1);
  int('epochs', cfg.epochs, 1);
  int('patience', cfg.patience, 0);
  int('seed', cfg.seed, 0, 2 ** 32 - 1);
  int('maxBatchAtoms', cfg.maxBatchAtoms, 1);
  for (const h of cfg.headHidden) int('headHidden', h, 1, 4096);
  for (const [name, v] of [['lr', cfg.lr], ['finetuneLr', cfg.finetuneLr], ['penalty', cfg.penalty], ['cosineTMax', cfg.cosineTMax]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0 (got ${v})`);
  }
  if (!GATE_INITS.includes(cfg.gateInit)) throw new RangeError(`gateInit must be one of ${GATE_INITS.join(', ')}`);
  if (cfg.loss !== 'mse' && cfg.loss !== 'l1') throw new RangeError(`loss must be 'mse' or 'l1'`);
  if (cfg.batchNorm !== 'batch' && cfg.batchNorm !== 'running') throw new RangeError(`batchNorm must be 'batch' or 'running'`);
  if (cfg.frozenBatchNorm !== 'source' && cfg.frozenBatchNorm !== 'target') throw new RangeError(`frozenBatchNorm must be 'source' or 'target'`);
  if (cfg.gateTieBreak !== 'seeded' && cfg.gateTieBreak !== 'index') throw new RangeError(`gateTieBreak must be 'seeded' or 'index'`);
  if (cfg.dedupeTolerance !== null && !(cfg.dedupeTolerance >= 0 && cfg.dedupeTolerance <= 0.01)) {
    throw new RangeError(`dedupeTolerance must be null or in [0, 0.01] Å (got ${cfg.dedupeTolerance})`);
  }
  return cfg;
}

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

/** One dense layer, [in, out] row-major. */
export interface DenseLayer {
  nIn: number;
  nOut: number;
  w: Float32Array;
  b: Float32Array;
}

/** PyTorch's default Linear initialisation, U(±1/√fan_in) for weights and biases, from a seeded stream. */
export function initHead(inDim: number, hidden: readonly number[], seed: number): DenseLayer[] {
  const rnd = mulberry32(seed ^ 0x5eed);
  const dims = [inDim, ...hidden, 1];
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    const nIn = dims[l];
    const nOut = dims[l + 1];
    const bound = 1 / Math.sqrt(nIn);
    const w = new Float32Array(nIn * nOut);
    for (let i = 0; i < w.length; i++) w[i] = (rnd() * 2 - 1) * bound;
    const b = new Float32Array(nOut);
    for (let i = 0; i < nOut; i++) b[i] = (rnd() * 2 - 1) * bound;
    layers.push({ nIn, nOut, w, b });
  }
  return layers;
}

/** The head on tensors: softplus after every layer but the last. [B, in] → [B]. */
export function headForward(layers: readonly { w: tf.Tensor2D; b: tf.Tensor1D }[], x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    layers.forEach((l, i) => {
      h = tf.add(tf.matMul(h, l.w), l.b) as tf.Tensor2D;
      if (i + 1 < layers.length) h = tf.softplus(h) as tf.Tensor2D;
    });
    return tf.reshape(h, [-1]) as tf.Tensor1D;
  });
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
export function predictMixture(model: MixtureModel, inputs: readonly MaterialInput[]): Float32Array {
  return predictMixtureDetailed(model, inputs).values;
}

export function predictMixtureDetailed(model: MixtureModel, inputs: readonly MaterialInput[]): MixturePrediction {
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
