/**
 * The mixture's training configuration: the paper's recipe as defaults (rees-c/MoE `main.py`), and every override the
 * API, the CLI and the benchmarks may set, checked in one place.
 */
import { EXPERT_KINDS } from '../experts/registry.js';
import { TARGET_TRANSFORMS, type Basis, type TargetTransform } from './output.js';

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
  /**
   * The scale on which validation MAE picks the best epoch: 'none' = physical units; the paper's ln for a target it
   * stores as ln(y), where one row of ε = 10⁶ would otherwise decide which epoch is kept.
   */
  stopOn: TargetTransform;
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
  /**
   * The mixture trains on this transform of the physical target (data targets are physical); its raw outputs are in
   * the transformed space and `physicalValue` (output.ts) maps them back. 'none' = the paper (as stored).
   */
  targetTransform: TargetTransform;
  /** Physical lower bound of the property (0 when every training target is ≥ 0): outputs are clamped to it; null = none. */
  targetMin: number | null;
  /** Inputs the member serves; null = derived by the trainer from its expert pool (any crystal-graph expert: 'structure'). */
  basis: Basis | null;
  /** Members trained on the same data split share a group (uncertainty pools the spread within a group). */
  ensembleGroup: number;
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
  stopOn: 'none',
  seed: 0,
  maxBatchAtoms: 16384,
  dedupeTolerance: 1e-4,
  gateTieBreak: 'index',
  targetTransform: 'none',
  targetMin: null,
  basis: null,
  ensembleGroup: 0,
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
  if (!TARGET_TRANSFORMS.includes(cfg.targetTransform)) throw new RangeError(`targetTransform must be one of ${TARGET_TRANSFORMS.join(', ')}`);
  if (!TARGET_TRANSFORMS.includes(cfg.stopOn)) throw new RangeError(`stopOn must be one of ${TARGET_TRANSFORMS.join(', ')}`);
  if (cfg.targetMin !== null && !Number.isFinite(cfg.targetMin)) throw new RangeError(`targetMin must be null or a finite number (got ${cfg.targetMin})`);
  if (cfg.basis !== null && cfg.basis !== 'structure' && cfg.basis !== 'composition') throw new RangeError(`basis must be null, 'structure' or 'composition'`);
  int('ensembleGroup', cfg.ensembleGroup, 0);
  if (cfg.dedupeTolerance !== null && !(cfg.dedupeTolerance >= 0 && cfg.dedupeTolerance <= 0.01)) {
    throw new RangeError(`dedupeTolerance must be null or in [0, 0.01] Å (got ${cfg.dedupeTolerance})`);
  }
  return cfg;
}
