/**
 * The composition-expert zoo: one expert per source set, trained with one fixed recipe, written as
 * `<key>.safetensors` + a card in `experts.json`. `scripts/zoo-composition.ts` is the command around it.
 *
 * The weights file carries the card without its run timings as metadata, so regenerating the zoo on the same
 * backend gives byte-identical `.safetensors` files (and sha256); `experts.json` also records how long each took.
 */
import { createHash } from 'node:crypto';
import { compositionFeatureMatrix, featureCount, featurizerSpec } from '../../src/chem/descriptors.js';
import { COMPOSITION_KIND, type CompositionExpertCard } from '../../src/ml/composition/card.js';
import { serializeCompositionExpert, type CompositionExpert } from '../../src/ml/composition/expert.js';
import { SOURCE_QUANTITIES } from '../../src/ml/experts/leakage.js';
import { DEFAULT_ENCODER, DEFAULT_HEAD, defaultArchitecture } from '../../src/ml/composition/model.js';
import { SPLIT_SEED, VAL_FRACTION, type SourceSet } from './sources.js';
import { pretrainCompositionExpert, type PretrainConfig, type PretrainEpoch } from './composition-pretrain.js';

/** The recipe every zoo expert is trained with (chosen by the measurements in docs/composition-experts.md). */
export const ZOO_RECIPE: Omit<PretrainConfig, 'architecture'> & { encoder: number[]; head: number[] } = {
  encoder: [...DEFAULT_ENCODER],
  head: [...DEFAULT_HEAD],
  epochs: 100,
  patience: 20,
  batchSize: 256,
  lr: 1e-3,
  weightDecay: 0,
  seed: 0,
};

const MATBENCH = 'Dunn et al., npj Comput. Mater. 6, 138 (2020), doi:10.1038/s41524-020-00406-3 (Matbench)';
const MP = 'Jain et al., APL Mater. 1, 011002 (2013) (Materials Project)';
const JARVIS =
  'Choudhary et al., Phys. Rev. B 98, 014107 (2018) (JARVIS-DFT); Gupta et al., Nat. Commun. 12, 6595 (2021) (CrossPropertyTL, Northwestern University)';

export const SOURCE_CITATIONS: Readonly<Record<string, string>> = {
  mp_e_form: `${MP}; ${MATBENCH}`,
  mp_gap: `${MP}; ${MATBENCH}`,
  mp_log_kvrh: `${MP}; de Jong et al., Sci. Data 2, 150009 (2015); ${MATBENCH}`,
  mp_log_gvrh: `${MP}; de Jong et al., Sci. Data 2, 150009 (2015); ${MATBENCH}`,
  castelli_perovskites_e_form: `Castelli et al., Energy Environ. Sci. 5, 9034 (2012); ${MATBENCH}`,
  jarvis3d_e_form: JARVIS,
  jarvis3d_optb88vdw_gap: JARVIS,
  jarvis3d_eps: JARVIS,
  jarvis3d_bulk_kv: JARVIS,
  jarvis3d_shear_gv: JARVIS,
  jarvis3d_ehull: JARVIS,
};

export const expertKeyOf = (sourceName: string): string => `comp_${sourceName}`;

function unitOf(set: SourceSet): string {
  const { unit, transform } = set.meta;
  return transform ? `${transform}(${unit})` : unit;
}

/** A trained expert (its baseSha256 is the sha256 of its file) with its .safetensors bytes. */
export interface ZooExpert extends CompositionExpert {
  bytes: Uint8Array;
  featurizeSeconds: number;
}

export interface ZooOptions {
  recipe?: Partial<typeof ZOO_RECIPE>;
  /** Training and validation rows to use instead of the set's (subsets for tests and trials). */
  split?: { train: Int32Array; val: Int32Array };
  backend: string;
  machine: string;
  onEpoch?: (e: PretrainEpoch) => void;
}

/** Card fields that change from run to run (timings, machine); the weights file leaves them out. */
export function stableCard(card: CompositionExpertCard): CompositionExpertCard {
  const { seconds: _s, machine: _m, ...training } = card.training;
  return { ...card, training };
}

export function trainZooExpert(set: SourceSet, opts: ZooOptions): ZooExpert {
  const recipe = { ...ZOO_RECIPE, ...opts.recipe };
  const name = set.meta.name;
  const quantity = SOURCE_QUANTITIES[name];
  if (!quantity) throw new Error(`source set ${name} has no quantity in SOURCE_QUANTITIES (leakage.ts): add it before training an expert`);
  const t0 = performance.now();
  const features = compositionFeatureMatrix(set.compositions);
  const featurizeSeconds = (performance.now() - t0) / 1000;
  const split = opts.split ?? { train: set.train, val: set.val };
  const architecture = defaultArchitecture(featureCount, recipe.encoder, recipe.head);
  const r = pretrainCompositionExpert(
    { features, targets: set.targets, train: split.train, val: split.val },
    { architecture, epochs: recipe.epochs, patience: recipe.patience, batchSize: recipe.batchSize, lr: recipe.lr, weightDecay: recipe.weightDecay, seed: recipe.seed },
    opts.onEpoch,
  );
  const key = expertKeyOf(name);
  const card: CompositionExpertCard = {
    key,
    kind: COMPOSITION_KIND,
    property: quantity.title,
    unit: unitOf(set),
    quantity: quantity.id,
    source: {
      name,
      origin: set.meta.origin,
      origin_files: set.meta.origin_files,
      target_column: set.meta.target_column,
      transform: set.meta.transform,
      id_scheme: set.meta.id_scheme,
      citation: SOURCE_CITATIONS[name] ?? set.meta.origin,
    },
    rows: { file: set.fileRows, formulas: set.formulas.length, train: split.train.length, val: split.val.length },
    split:
      set.splitKind === 'source'
        ? {
            kind: 'source',
            description: "the source's own split (CrossPropertyTL train/test); its test formulas are the validation set, a formula in both goes to validation",
            seed: null,
            val_fraction: null,
          }
        : { kind: 'random', description: 'seeded random 10 % of the distinct reduced formulas', seed: SPLIT_SEED, val_fraction: VAL_FRACTION },
    val_mae: r.valMae,
    val_rmse: r.valRmse,
    train_mae: r.trainMae,
    baseline_val_mae: r.baselineValMae,
    featurizer: featurizerSpec(),
    architecture,
    target_normalizer: r.targetNormalizer,
    training: {
      epochs_cap: recipe.epochs,
      epochs_run: r.epochsRun,
      best_epoch: r.bestEpoch,
      patience: recipe.patience,
      batch_size: recipe.batchSize,
      lr: recipe.lr,
      lr_schedule: 'cosine over epochs_cap, stepped per epoch',
      weight_decay: recipe.weightDecay,
      optimizer: 'Adam (PyTorch form), decoupled weight decay on kernels (w ← w·(1 − lr·wd) per step)',
      seed: recipe.seed,
      seconds: Math.round(r.seconds * 10) / 10,
      backend: opts.backend,
      machine: opts.machine,
    },
    file: `${key}.safetensors`,
  };
  const bytes = serializeCompositionExpert(stableCard(card), r.weights);
  return { key, kind: COMPOSITION_KIND, card, weights: r.weights, baseSha256: createHash('sha256').update(bytes).digest('hex'), bytes, featurizeSeconds };
}
