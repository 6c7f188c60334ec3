/**
 * The fine-tune job, defined once. `FineTuneRequest` is what a client sends (POST /v1/jobs, `matmoe train`); the
 * route schema, the CLI flags and the service types derive from it. `FineTunePayload` is what is queued: the same
 * request with every reference resolved and every default filled at submit time, so a worker never guesses; the worker
 * checks a stored payload against it with Value.Parse.
 */
import { Type, type Static } from 'typebox';
import { GATE_INITS } from '../../ml/mixture/config.js';
import { CANDIDATE_PROTOCOL } from '../../ml/recipes/candidates.js';
import { VisibilitySchema } from '../datasets/limits.js';

const Uuid = (description: string) => Type.String({ format: 'uuid', description });

/** Letters, digits, "_", "." and "-"; not "." or "..", and not shaped like a model id (a uuid), so a name never shadows an id. */
export const MODEL_NAME_PATTERN = '^(?!\\.{1,2}$)(?![0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)[A-Za-z0-9_.-]{1,100}$';
export const ModelName = Type.String({
  pattern: MODEL_NAME_PATTERN,
  description: 'name of the model (unique): letters, digits, "_", "." and "-" (at most 100), not "." or ".." and not shaped like a uuid; ' +
    'default "<dataset name>-<first 8 characters of the job id>"',
});

export const ExpertKey = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'expert key, e.g. mp_eform' });

export const RECIPES = ['auto', 'paper', 'custom'] as const;
/** Options that define a custom recipe; with "auto" the candidates set them, with "paper" the paper does. */
export const CUSTOM_RECIPE_OPTIONS = ['mode', 'loss', 'gateInit', 'gateWarmup'] as const;

const fineTuneOptions = {
  name: Type.Optional(ModelName),
  experts: Type.Optional(Type.Union([Type.Literal('all'), Type.Array(ExpertKey, { minItems: 1, maxItems: 100 })], {
    description: 'expert keys, or "all" (default) for every expert the dataset can feed that was not pre-trained on its own property',
  })),
  recipe: Type.Optional(Type.Enum([...RECIPES], {
    description: 'auto (default): a few candidate recipes (the paper\'s, probe gate + L1, with and without composition experts, a log ' +
      'transform for skewed positive targets, MSE for heavy-tailed ones) trained and the best kept by validation MAE; paper: the paper\'s ' +
      'recipe only; custom: the one recipe given by mode, loss, gateInit and gateWarmup (the default when one of them is given)',
  })),
  members: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'ensemble members of the chosen recipe (different seeds), whose spread gives each prediction its calibrated uncertainty (default 3; 1 gives intervals of one width for every material)' })),
  mode: Type.Optional(Type.Enum(['mixture', 'pairwise', 'scratch'], { description: 'custom recipe: mixture of experts (default), one fixed expert, or CGCNN from scratch' })),
  k: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'experts mixed: top-k of the gate (paper and default: 2; at most the number of experts)' })),
  epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: `at most this many epochs per training run (default ${CANDIDATE_PROTOCOL.epochs}; the paper: 1000)` })),
  patience: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: `stop a run after this many epochs without a better validation MAE (default min(${CANDIDATE_PROTOCOL.patience}, epochs); the paper: 500)` })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: 'initialisation and shuffling seed of the first member (member j uses seed + 100 j; default 0)' })),
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'crystals per step (paper and default: 250)' })),
  loss: Type.Optional(Type.Enum(['mse', 'l1'], {
    description: 'custom recipe: training loss on the standardised target, mse (the paper) or l1. Default: l1 when every expert is a composition expert, else mse',
  })),
  gateWarmup: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: 'custom recipe: first epochs in which every expert is mixed before top-k selection (default 0); at most `epochs`' })),
  gateInit: Type.Optional(Type.Enum([...GATE_INITS], {
    description: 'custom recipe: starting gate logits, equal (the paper), probe (experts ranked by ridge probes of their frozen embeddings, scored on the validation rows) or probe-kinds (ranked within each expert kind). Default: probe when every expert is a composition expert, else equal',
  })),
  visibility: Type.Optional(VisibilitySchema),
};

export const FineTuneRequest = Type.Object(
  {
    type: Type.Literal('fine-tune', { description: 'train a mixture of experts on a dataset split' }),
    dataset: Uuid('dataset id'),
    split: Uuid('split id of that dataset'),
    ...fineTuneOptions,
  },
  { additionalProperties: false },
);
export type FineTuneRequest = Static<typeof FineTuneRequest>;

/** The options a client may set, by name: what the CLI turns into flags. */
export const FINE_TUNE_OPTIONS = fineTuneOptions;

const CustomRecipe = Type.Object(
  {
    mode: Type.Enum(['mixture', 'pairwise', 'scratch']),
    loss: Type.Enum(['mse', 'l1']),
    gateWarmup: Type.Integer({ minimum: 0 }),
    gateInit: Type.Enum([...GATE_INITS]),
  },
  { additionalProperties: false },
);

export const FineTunePayload = Type.Object(
  {
    type: Type.Literal('fine-tune'),
    dataset: Uuid('dataset id'),
    split: Uuid('split id'),
    name: ModelName,
    experts: Type.Array(ExpertKey, { minItems: 1 }),
    recipe: Type.Enum([...RECIPES]),
    /** Filled for a custom recipe, null otherwise. */
    custom: Type.Union([CustomRecipe, Type.Null()]),
    members: Type.Integer({ minimum: 1 }),
    /** What the members read: crystal graphs (some expert is a CGCNN) or formulas. */
    basis: Type.Enum(['structure', 'composition']),
    k: Type.Integer({ minimum: 1 }),
    epochs: Type.Integer({ minimum: 1 }),
    patience: Type.Integer({ minimum: 0 }),
    seed: Type.Integer({ minimum: 0 }),
    batchSize: Type.Integer({ minimum: 1 }),
    visibility: VisibilitySchema,
  },
  { additionalProperties: false },
);
export type FineTunePayload = Static<typeof FineTunePayload>;
