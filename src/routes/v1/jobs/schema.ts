import { Type, type Static } from 'typebox';

export const JobIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'job id' }) });

export const CreateJobBody = Type.Object(
  {
    type: Type.Enum(['fine-tune', 'selftest'], { description: '`fine-tune` trains a mixture on a dataset split; `selftest` walks timed steps through the queue and a worker' }),
    dataset: Type.Optional(Type.String({ format: 'uuid', description: 'fine-tune: dataset id' })),
    split: Type.Optional(Type.String({ format: 'uuid', description: 'fine-tune: split id of that dataset' })),
    experts: Type.Optional(Type.Union([Type.Literal('all'), Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 100 })], { description: 'fine-tune: expert keys, or "all" (default) for every expert the dataset can feed' })),
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'fine-tune: name of the model to create (unique)' })),
    mode: Type.Optional(Type.Enum(['mixture', 'pairwise', 'scratch'], { description: 'fine-tune: mixture of experts (default), one fixed expert, or CGCNN from scratch' })),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'fine-tune: experts mixed (top-k of the gate; paper: 2)' })),
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'fine-tune: at most this many epochs (paper: 1000)' })),
    patience: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: 'fine-tune: stop after this many epochs without a better validation MAE (paper: 500)' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'fine-tune: crystals per step (paper: 250)' })),
    loss: Type.Optional(Type.Enum(['mse', 'l1'], { description: 'fine-tune: training loss on the standardised target: mse (the paper) or l1 (the mean absolute error that is reported). Default: l1 when every expert is a composition expert (measured better there), else mse' })),
    gateWarmup: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, description: 'fine-tune: first epochs in which every expert is mixed before top-k selection (paper: 0); at most `epochs`' })),
    gateInit: Type.Optional(Type.Enum(['equal', 'probe', 'probe-kinds'], { description: 'fine-tune: starting gate logits: equal (the paper), probe (experts ranked by a ridge regression on their frozen embeddings, scored on the validation rows) or probe-kinds (ranked within each expert kind, so the best crystal-graph and the best composition expert start together). Default: probe when every expert is a composition expert (measured better there), else equal' })),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'selftest: number of steps' })),
    stepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, description: 'selftest: milliseconds per step' })),
    failAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'selftest: fail the first N attempts (exercises retries)' })),
  },
  {
    additionalProperties: false,
    examples: [{ type: 'fine-tune', dataset: '5d0c6b2a-1f3e-4a7b-9c8d-0e1f2a3b4c5d', split: '7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b', experts: 'all', k: 2, epochs: 300, patience: 100, name: 'my-2d-gaps' }],
  },
);
export type CreateJobBody = Static<typeof CreateJobBody>;

const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const JobResponse = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    state: Type.Enum(['queued', 'active', 'completed', 'failed', 'cancelled']),
    payload: Type.Record(Type.String(), Type.Unknown()),
    progress: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    error: Nullable(Type.String()),
    attempts: Type.Integer(),
    backend: Nullable(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    links: Type.Object({ self: Type.String() }),
  },
  {
    examples: [{
      id: '3f1c2a5e-8f5b-4c1e-9a43-2b8d2f7c9e10', type: 'selftest', state: 'completed', payload: { steps: 5, stepMs: 100, failAttempts: 0 },
      progress: { step: 5, steps: 5 }, result: { steps: 5, attempt: 1, ms: 512 }, error: null, attempts: 1, backend: 'wasm',
      createdAt: '2026-11-24T10:00:00.000Z', updatedAt: '2026-11-24T10:00:01.000Z', startedAt: '2026-11-24T10:00:00.100Z', finishedAt: '2026-11-24T10:00:00.700Z',
      links: { self: '/v1/jobs/3f1c2a5e-8f5b-4c1e-9a43-2b8d2f7c9e10' },
    }],
  },
);
