import { Type, type Static } from 'typebox';

export const JobIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'job id' }) });

export const CreateJobBody = Type.Object(
  {
    type: Type.Literal('selftest', { description: 'job type; `selftest` walks timed steps through the queue and a worker' }),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    stepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000 })),
    failAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'fail the first N attempts (exercises retries)' })),
  },
  { additionalProperties: false, examples: [{ type: 'selftest', steps: 5, stepMs: 100 }] },
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
