import { Type } from 'typebox';
import { InputsArray } from '../../../http/inputs.js';
import { Offset } from '../../../http/paging.js';
import { MODEL_NAME_PATTERN } from '../../../services/fine-tune/request.js';
import { NUL_FREE, VisibilitySchema } from '../../../services/datasets/limits.js';
import { CoverageSchema, MaterialPredictionSchema } from '../../../services/inference/prediction.js';

/** A model id (uuid) or name: a name never looks like a uuid, so the two cannot be confused. */
const ModelIdOrName = Type.String({ minLength: 1, maxLength: 100, pattern: `${MODEL_NAME_PATTERN}|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`, description: 'model id (uuid) or name, e.g. expt_bandgap' });

export const ModelRef = Type.Object({ id: ModelIdOrName });

export const ModelListQuery = Type.Object({
  property: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NUL_FREE, description: 'only models of this property' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  offset: Type.Optional(Offset()),
});

const ExpertWeight = Type.Object({ key: Type.String(), kind: Type.String(), weight: Type.Number() });

const CARD_EXAMPLE = {
  id: '9b2f0c1e-3d4a-4b5c-8d6e-7f8091a2b3c4', name: 'expt_bandgap', property: 'experimental band gap', unit: 'eV', shipped: true, visibility: 'public', mine: false,
  inputKinds: ['formula', 'structure', 'cif', 'poscar'], experts: [{ key: 'comp_mp_gap', kind: 'composition', weight: 0.93 }, { key: 'comp_jarvis3d_optb88vdw_gap', kind: 'composition', weight: 0.07 }],
  metrics: { valMae: 0.35, testMae: 0.36, members: 5 }, config: { mode: 'mixture', k: 2 }, checksum: 'a'.repeat(64), version: 1,
  datasetId: null, splitId: null, jobId: null, createdAt: '2026-11-24T10:00:00.000Z',
  links: { self: '/v1/models/expt_bandgap', predict: '/v1/models/expt_bandgap/predict', parity: '/v1/models/expt_bandgap/parity.svg', gates: '/v1/models/expt_bandgap/gates.svg' },
};

export const ModelCard = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    property: Type.String(),
    unit: Type.String(),
    shipped: Type.Boolean({ description: 'trained by `npm run zoo:tasks` and shipped with the service' }),
    visibility: VisibilitySchema,
    mine: Type.Boolean({ description: 'whether the caller owns it' }),
    inputKinds: Type.Array(Type.String(), { description: 'input kinds the model accepts' }),
    experts: Type.Array(ExpertWeight, { description: 'experts used, with their learned gate weights (averaged over ensemble members)' }),
    metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'validation/test MAE in the model unit, best epoch, training time, backend, ensemble members' }),
    config: Type.Record(Type.String(), Type.Unknown()),
    checksum: Type.String(),
    version: Type.Integer(),
    datasetId: Type.Union([Type.String(), Type.Null()]),
    splitId: Type.Union([Type.String(), Type.Null()]),
    jobId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    links: Type.Object({ self: Type.String(), predict: Type.String(), parity: Type.String(), gates: Type.String() }),
  },
  { examples: [CARD_EXAMPLE] },
);

export const ModelList = Type.Object({ items: Type.Array(ModelCard), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });

const PREDICTION_EXAMPLE = {
  model: 'expt_bandgap', property: 'experimental band gap', unit: 'eV',
  predictions: [{
    value: 1.38, unit: 'eV', uncertainty: 0.21, interval: [1.02, 1.75], coverage: 0.9, uncertaintyMethod: 'split-conformal-ensemble', basis: 'composition',
    formula: 'GaAs', composition: { Ga: 0.5, As: 0.5 },
    experts: [{ key: 'comp_mp_gap', kind: 'composition', weight: 0.93 }, { key: 'comp_jarvis3d_optb88vdw_gap', kind: 'composition', weight: 0.07 }], warnings: [],
  }],
};

export const PredictionsResponse = Type.Object(
  {
    model: Type.String(),
    property: Type.String(),
    unit: Type.String(),
    predictions: Type.Array(MaterialPredictionSchema),
  },
  { examples: [PREDICTION_EXAMPLE] },
);

const INPUTS_EXAMPLE = { inputs: [{ formula: 'GaAs' }, { formula: 'Fe2O3' }] };

export const ModelPredictBody = Type.Object(
  { inputs: InputsArray, coverage: Type.Optional(CoverageSchema) },
  { additionalProperties: false, examples: [INPUTS_EXAMPLE] },
);

export const PredictBody = Type.Object(
  {
    model: Type.Intersect([ModelIdOrName], { description: 'model id or name (GET /v1/models)' }),
    inputs: InputsArray,
    coverage: Type.Optional(CoverageSchema),
  },
  { additionalProperties: false, examples: [{ model: 'expt_bandgap', ...INPUTS_EXAMPLE }] },
);

export const SvgResponse = Type.String({ description: 'image/svg+xml' });
