/**
 * The card of a composition expert: what it predicts, from which data, how well, and everything needed to run
 * it (architecture, featurizer, target normaliser). It is written into `experts.json` and, as JSON, into the
 * safetensors metadata under `card`, so a weights file is self-describing.
 */
import type { FeaturizerSpec } from '../../chem/descriptors.js';
import { checkArchitecture, type CompositionArchitecture } from './model.js';

export const COMPOSITION_KIND = 'composition';

export interface CompositionExpertCard {
  /** `comp_<source name>`. */
  key: string;
  kind: typeof COMPOSITION_KIND;
  /** Human-readable property, with database and method. */
  property: string;
  /** Unit of the predictions (the source set's unit, its transform included). */
  unit: string;
  /** Identity of the physical quantity (database:quantity), the key of the leakage rule. */
  quantity: string;
  source: {
    name: string;
    origin: string;
    origin_files: string[];
    target_column: string;
    transform: string | null;
    id_scheme: string;
    /** Citation of the original data. */
    citation: string;
  };
  rows: {
    /** Rows of the source file. */
    file: number;
    /** Distinct reduced formulas (polymorphs merged, targets averaged). */
    formulas: number;
    train: number;
    val: number;
  };
  split: { kind: 'source' | 'random'; description: string; seed: number | null; val_fraction: number | null };
  /** Mean absolute error on the held-out formulas, in `unit`. */
  val_mae: number;
  val_rmse: number;
  train_mae: number;
  /** MAE of predicting the training mean for every held-out formula (for scale). */
  baseline_val_mae: number;
  featurizer: FeaturizerSpec;
  architecture: CompositionArchitecture;
  target_normalizer: { mean: number; std: number };
  training: {
    epochs_cap: number;
    epochs_run: number;
    best_epoch: number;
    patience: number;
    batch_size: number;
    lr: number;
    lr_schedule: string;
    weight_decay: number;
    optimizer: string;
    seed: number;
    /** Wall-clock training time (experts.json only: the weights file leaves run timings out to stay byte-identical). */
    seconds?: number;
    backend: string;
    machine?: string;
  };
  /** Weights file name inside the experts folder. */
  file: string;
  /** sha256 of the weights file (experts.json only). */
  sha256?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws unless `c` is a complete card this service can run. */
export function checkCard(c: unknown): asserts c is CompositionExpertCard {
  if (!isObj(c)) throw new Error('a composition expert card must be an object');
  const key = typeof c.key === 'string' ? c.key : '?';
  const fail = (m: string): never => {
    throw new Error(`composition expert ${key}: ${m}`);
  };
  if (typeof c.key !== 'string' || !/^[a-z0-9_]+$/.test(c.key)) fail('key must be lower-case letters, digits and _');
  if (c.kind !== COMPOSITION_KIND) fail(`kind must be "${COMPOSITION_KIND}"`);
  for (const f of ['property', 'unit', 'quantity', 'file'] as const) if (typeof c[f] !== 'string') fail(`${f} must be a string`);
  if (!isObj(c.source) || typeof c.source.name !== 'string') fail('source.name is missing');
  if (!isObj(c.featurizer) || typeof c.featurizer.version !== 'string' || !Number.isInteger(c.featurizer.featureCount)) fail('featurizer spec is missing');
  const tn = c.target_normalizer;
  if (!isObj(tn) || !Number.isFinite(tn.mean) || !(typeof tn.std === 'number' && tn.std > 0 && Number.isFinite(tn.std))) {
    fail('target_normalizer must have a finite mean and a positive std');
  }
  checkArchitecture(c.architecture as CompositionArchitecture);
  if ((c.architecture as CompositionArchitecture).input_dim !== (c.featurizer as { featureCount: number }).featureCount) {
    fail('architecture.input_dim differs from featurizer.featureCount');
  }
}
