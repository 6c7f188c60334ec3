/**
 * Composition experts as an `ExpertKind` of the mixture (../expert-kind.ts): formula → 64-d embedding.
 * A structure input is reduced to its composition (the element counts of its sites), so structure tasks can mix
 * both kinds. Fine-tuning trains the last `finetuneLayers` encoder layers (1 = the layer that makes the embedding,
 * the counterpart of CGCNN's last conv); the layers before them are run once per dataset in `prepare`.
 */
import { compositionFeatureMatrix, compositionFeatures, featureCount, featurizerSpec } from '../../chem/descriptors.js';
import { ELEMENT_SYMBOLS } from '../../chem/elements.js';
import { parseFormula } from '../../chem/formula.js';
import { ChemError, type Composition } from '../../chem/types.js';
import { tf } from '../tf.js';
import type { ExpertKind, ExpertWeights, ExpertInput, RowsRef, TrainableExpert, TrainableOptions } from '../experts/expert-kind.js';
import { checkCard, COMPOSITION_KIND, type CompositionExpertCard } from './card.js';
import { checkFeaturizer, compositionExpertFromBytes, type CompositionExpert } from './expert.js';
import {
  checkWeights,
  cloneWeights,
  DEFAULT_ENCODER,
  DEFAULT_HEAD,
  defaultArchitecture,
  EMBEDDING_DIM,
  encoderB,
  encoderW,
  featureStats,
  initWeights,
  INPUT_MEAN,
  INPUT_STD,
  runModel,
  softplusStack,
  standardize,
  type CompositionArchitecture,
  type DenseT,
} from './model.js';

/** The composition a composition expert sees for one input: the formula if given, else the structure's sites. */
export function inputComposition(input: ExpertInput): Composition {
  if (typeof input.formula === 'string') return parseFormula(input.formula).amounts;
  if (input.graph) {
    const c: Composition = {};
    for (const z of input.graph.atomicNumbers) {
      const el = ELEMENT_SYMBOLS[z];
      if (!el) throw new ChemError('element_unsupported', `atomic number ${z} is not an element`);
      c[el] = (c[el] ?? 0) + 1;
    }
    return c;
  }
  throw new ChemError('composition_required', 'a composition expert needs a formula or a structure');
}

function cardOf(expert: ExpertWeights): CompositionExpertCard {
  checkCard(expert.card);
  return expert.card;
}

class CompositionTrainable implements TrainableExpert {
  readonly kind = COMPOSITION_KIND;
  readonly dim = EMBEDDING_DIM;
  readonly key: string;
  readonly variables: tf.Variable[] = [];
  private readonly arch: CompositionArchitecture;
  /** Index of the first trainable encoder layer. */
  private readonly firstTrainable: number;
  private readonly layers: { w: tf.Variable; b: tf.Variable; i: number }[] = [];
  /** Output of the frozen layers for every prepared input, row-major [n, width]. */
  private frozen: Float32Array | null = null;
  private frozenWidth = 0;
  private readonly cache = new Map<string, tf.Tensor2D>();
  private base: ExpertWeights;

  constructor(base: ExpertWeights, private readonly opts: TrainableOptions) {
    const card = cardOf(base);
    this.arch = card.architecture;
    this.key = base.key;
    const nEnc = this.arch.encoder.length;
    const nTrain = opts.scratch ? nEnc : Math.min(nEnc, Math.max(0, opts.finetuneLayers));
    this.firstTrainable = nEnc - nTrain;
    this.base = { ...base, weights: cloneWeights(base.weights) };
    for (let i = this.firstTrainable; i < nEnc; i++) {
      const w = this.base.weights.get(encoderW(i))!;
      const b = this.base.weights.get(encoderB(i))!;
      // tidy disposes the initial-value tensors; auto-named variables never clash between two trainables of one expert.
      const lw = tf.tidy(() => tf.variable(tf.tensor2d(w.data, w.shape as [number, number]), true));
      const lb = tf.tidy(() => tf.variable(tf.tensor1d(b.data), true));
      this.layers.push({ w: lw, b: lb, i });
      this.variables.push(lw, lb);
    }
  }

  prepare(inputs: readonly ExpertInput[], opts: { statRows?: ArrayLike<number> } = {}): void {
    this.clearCache();
    const raw = compositionFeatureMatrix(inputs.map(inputComposition));
    const d = this.arch.input_dim;
    if (this.opts.scratch && inputs.length > 0) {
      // A scratch expert has no training statistics of its own: standardise with those of the training rows
      // (`statRows`; all inputs when not given). Features only, never targets.
      const rows = opts.statRows && opts.statRows.length > 0 ? opts.statRows : Int32Array.from({ length: inputs.length }, (_, i) => i);
      const s = featureStats(raw, d, rows);
      this.base.weights.set(INPUT_MEAN, { shape: [d], data: s.mean });
      this.base.weights.set(INPUT_STD, { shape: [d], data: s.std });
    }
    let h = standardize(raw, this.base.weights.get(INPUT_MEAN)!.data, this.base.weights.get(INPUT_STD)!.data);
    let width = d;
    if (this.firstTrainable > 0) {
      const frozenLayers = this.arch.encoder.slice(0, this.firstTrainable);
      const out = new Float32Array(inputs.length * frozenLayers[frozenLayers.length - 1]);
      const t: DenseT[] = frozenLayers.map((_, i) => {
        const w = this.base.weights.get(encoderW(i))!;
        return { w: tf.tensor2d(w.data, w.shape as [number, number]), b: tf.tensor1d(this.base.weights.get(encoderB(i))!.data) };
      });
      try {
        const step = 4096;
        for (let s = 0; s < inputs.length; s += step) {
          const m = Math.min(step, inputs.length - s);
          tf.tidy(() => out.set(softplusStack(t, tf.tensor2d(h.subarray(s * width, (s + m) * width), [m, width])).dataSync(), s * frozenLayers[frozenLayers.length - 1]));
        }
      } finally {
        tf.dispose(t.flatMap((l) => [l.w, l.b]));
      }
      h = out;
      width = frozenLayers[frozenLayers.length - 1];
    }
    this.frozen = h;
    this.frozenWidth = width;
  }

  private rowsTensor(rows: Int32Array): tf.Tensor2D {
    if (!this.frozen) throw new Error(`expert ${this.key}: prepare() must run before embed()`);
    const w = this.frozenWidth;
    const buf = new Float32Array(rows.length * w);
    rows.forEach((r, k) => buf.set(this.frozen!.subarray(r * w, (r + 1) * w), k * w));
    return tf.tensor2d(buf, [rows.length, w]);
  }

  embed(ref: RowsRef, _training: boolean): tf.Tensor2D {
    let x: tf.Tensor2D;
    let owned = false;
    if (ref.cacheKey !== undefined) {
      let hit = this.cache.get(ref.cacheKey);
      if (!hit) {
        // Kept: the caller may be inside a tidy, and the cached rows outlive it.
        hit = tf.keep(this.rowsTensor(ref.rows));
        this.cache.set(ref.cacheKey, hit);
      }
      x = hit;
    } else {
      x = this.rowsTensor(ref.rows);
      owned = true;
    }
    try {
      return tf.tidy(() => (this.layers.length === 0 ? tf.clone(x) : softplusStack(this.layers.map((l) => ({ w: l.w as tf.Tensor as tf.Tensor2D, b: l.b as tf.Tensor as tf.Tensor1D })), x)));
    } finally {
      if (owned) x.dispose();
    }
  }

  afterStep(): void {
    // No batch statistics to update.
  }

  snapshot(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const l of this.layers) {
      out.set(encoderW(l.i), (l.w.dataSync() as Float32Array).slice());
      out.set(encoderB(l.i), (l.b.dataSync() as Float32Array).slice());
    }
    return out;
  }

  restore(s: Map<string, Float32Array>): void {
    for (const l of this.layers) {
      const w = s.get(encoderW(l.i));
      const b = s.get(encoderB(l.i));
      if (!w || !b) throw new Error(`snapshot of ${this.key} lacks encoder layer ${l.i}`);
      tf.tidy(() => {
        l.w.assign(tf.tensor2d(w, l.w.shape as [number, number]));
        l.b.assign(tf.tensor1d(b));
      });
    }
  }

  exportWeights(): ExpertWeights {
    const weights = cloneWeights(this.base.weights);
    for (const [name, data] of this.snapshot()) weights.set(name, { shape: [...weights.get(name)!.shape], data });
    return { ...this.base, card: { ...this.base.card }, weights };
  }

  private clearCache(): void {
    tf.dispose([...this.cache.values()]);
    this.cache.clear();
  }

  dispose(): void {
    this.clearCache();
    tf.dispose(this.variables);
    this.variables.length = 0;
    this.layers.length = 0;
    this.frozen = null;
  }
}

export const compositionKind: ExpertKind = {
  kind: COMPOSITION_KIND,
  fromBytes: compositionExpertFromBytes,
  createTrainable(base: ExpertWeights, opts: TrainableOptions): TrainableExpert {
    this.validate(base);
    return new CompositionTrainable(base, opts);
  },
  embed(expert: ExpertWeights, inputs: readonly ExpertInput[]): Float32Array {
    const card = cardOf(expert);
    return runModel(expert.weights, card.architecture, compositionFeatureMatrix(inputs.map(inputComposition)), false).embeddings;
  },
  validate(expert: ExpertWeights): void {
    if (expert.kind !== COMPOSITION_KIND) throw new Error(`expert ${expert.key} has kind "${expert.kind}", not "${COMPOSITION_KIND}"`);
    const card = cardOf(expert);
    checkFeaturizer(card);
    checkWeights(expert.weights, card.architecture);
  },
  check(input: ExpertInput): void {
    compositionFeatures(inputComposition(input));
  },
};

/**
 * A randomly initialised composition expert for training from scratch (the mixture's `scratch` mode): every layer
 * trains, and `prepare` standardises the descriptors with the statistics of the inputs it is given.
 */
export function scratchCompositionExpert(key: string, seed: number, encoder: readonly number[] = DEFAULT_ENCODER, head: readonly number[] = DEFAULT_HEAD): CompositionExpert {
  const architecture = defaultArchitecture(featureCount, encoder, head);
  const card: CompositionExpertCard = {
    key,
    kind: COMPOSITION_KIND,
    property: 'none (trained from scratch)',
    unit: '',
    quantity: '',
    source: { name: '', origin: 'random initialisation', origin_files: [], target_column: '', transform: null, id_scheme: '', citation: '' },
    rows: { file: 0, formulas: 0, train: 0, val: 0 },
    split: { kind: 'random', description: 'none', seed: null, val_fraction: null },
    val_mae: 0,
    val_rmse: 0,
    train_mae: 0,
    baseline_val_mae: 0,
    featurizer: featurizerSpec(),
    architecture,
    target_normalizer: { mean: 0, std: 1 },
    training: { epochs_cap: 0, epochs_run: 0, best_epoch: -1, patience: 0, batch_size: 0, lr: 0, lr_schedule: '', weight_decay: 0, optimizer: '', seed, backend: '' },
    file: '',
  };
  return { key, kind: COMPOSITION_KIND, card, baseSha256: '', weights: initWeights(architecture, seed) };
}
