/**
 * The batch-prediction job, defined once: screen every input of a dataset (an unlabelled one holds inputs only) with a
 * model, off the request path. The queued payload pins the model version resolved at submit time, so all rows are
 * answered by one version of the model.
 */
import { Type, type Static } from 'typebox';
import { CoverageSchema } from '../inference/prediction.js';

const Uuid = (description: string) => Type.String({ format: 'uuid', description });

export const BatchPredictRequest = Type.Object(
  {
    type: Type.Literal('batch-predict', { description: 'predict every row of a dataset with a model; results download as CSV or JSONL' }),
    model: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'model id or name (GET /v1/models)' }),
    dataset: Uuid('dataset id: its inputs are screened (targets, if any, are copied to the output for comparison)'),
    coverage: Type.Optional(CoverageSchema),
  },
  { additionalProperties: false },
);
export type BatchPredictRequest = Static<typeof BatchPredictRequest>;

export const BatchPredictPayload = Type.Object(
  {
    type: Type.Literal('batch-predict'),
    model: Uuid('model id'),
    modelName: Type.String(),
    checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    dataset: Uuid('dataset id'),
    coverage: CoverageSchema,
  },
  { additionalProperties: false },
);
export type BatchPredictPayload = Static<typeof BatchPredictPayload>;
