import { Type } from 'typebox';

export const JobIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'job id' }) });

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$',
    description: 'repeat a POST safely: the same key with the same request returns the same job; the same key with another request is a 422',
  })),
});

export const OutputQuery = Type.Object({
  format: Type.Optional(Type.Enum(['jsonl', 'csv'], { description: 'jsonl (default) or csv' })),
}, { additionalProperties: false });

const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const JOB_ID = '3f1c2a5e-8f5b-4c1e-9a43-2b8d2f7c9e10';

export const JobResponse = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    state: Type.Enum(['queued', 'active', 'completed', 'failed', 'cancelled']),
    payload: Type.Record(Type.String(), Type.Unknown(), { description: 'the request as queued: every default filled, the experts resolved' }),
    progress: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    error: Nullable(Type.String()),
    attempts: Type.Integer(),
    backend: Nullable(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    links: Type.Object({ self: Type.String(), events: Type.String() }),
  },
  {
    examples: [{
      id: JOB_ID, type: 'fine-tune', state: 'completed',
      payload: {
        type: 'fine-tune', dataset: '5d0c6b2a-1f3e-4a7b-9c8d-0e1f2a3b4c5d', split: '7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b', name: 'my-2d-gaps',
        experts: ['mp_bandgap', 'jarvis_bandgap', 'mp_eform'], mode: 'mixture', k: 2, epochs: 300, patience: 100, seed: 0, batchSize: 250,
        loss: 'mse', gateWarmup: 0, gateInit: 'equal', visibility: 'private',
      },
      progress: { stage: 'saving', epoch: 300, epochs: 300, trainLoss: 0.061, valMae: 0.52, bestValMae: 0.49, bestEpoch: 212, gate: [{ key: 'mp_bandgap', weight: 0.91 }, { key: 'jarvis_bandgap', weight: 0.09 }], seconds: 41.2 },
      result: { model: '9b2f0c1e-3d4a-4b5c-8d6e-7f8091a2b3c4', name: 'my-2d-gaps', valMae: 0.49, testMae: 0.53, bestEpoch: 212, epochsRun: 300 },
      error: null, attempts: 1, backend: 'wasm',
      createdAt: '2026-11-24T10:00:00.000Z', updatedAt: '2026-11-24T10:00:45.000Z', startedAt: '2026-11-24T10:00:00.100Z', finishedAt: '2026-11-24T10:00:45.000Z',
      links: { self: `/v1/jobs/${JOB_ID}`, events: `/v1/jobs/${JOB_ID}/events` },
    }],
  },
);
