/**
 * A test-only job: walks `steps` timed steps through the real queue, worker, progress reporting and Postgres mirror,
 * failing its first `failAttempts` attempts, so queue behaviour (retries, release on shutdown, cancellation, events)
 * can be tested without training anything. Not part of the public API: tests register it in-process
 * (`registerJobType(selftestJob)`) and enqueue it with the queue module; test/support/selftest-worker.ts runs a
 * worker process that knows it.
 */
import { Type } from 'typebox';
import { abortableSleep, type JobDefinition } from '../../src/queue/job-types.js';

const SelftestPayload = Type.Object({
  steps: Type.Integer({ minimum: 1, maximum: 1000 }),
  stepMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  failAttempts: Type.Integer({ minimum: 0, maximum: 10 }),
}, { additionalProperties: false });

export const selftestJob: JobDefinition<typeof SelftestPayload> = {
  type: 'selftest',
  payload: SelftestPayload,
  async run({ payload, signal, reportProgress, attempt }) {
    if (attempt <= payload.failAttempts) throw new Error(`selftest failing on purpose (attempt ${attempt} of the first ${payload.failAttempts})`);
    const started = Date.now();
    for (let step = 1; step <= payload.steps; step++) {
      await abortableSleep(payload.stepMs, signal);
      await reportProgress({ step, steps: payload.steps });
    }
    return { steps: payload.steps, attempt, ms: Date.now() - started };
  },
};
