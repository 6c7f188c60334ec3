import { abortableSleep, type JobDefinition } from '../job-types.js';

export interface SelftestPayload {
  steps: number;
  stepMs: number;
  /** Fail the first N attempts, to exercise retries. */
  failAttempts: number;
}

/**
 * A queue self-test: walks `steps` timed steps through the real queue, worker, progress reporting and Postgres mirror,
 * so an operator can check a deployment end to end without training anything (POST /v1/jobs {"type":"selftest"}).
 */
export const selftestJob: JobDefinition<SelftestPayload> = {
  type: 'selftest',
  parsePayload(raw) {
    const p = (raw ?? {}) as Partial<Record<keyof SelftestPayload, unknown>>;
    const int = (v: unknown, d: number, lo: number, hi: number, name: string): number => {
      if (v === undefined) return d;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`${name} must be a whole number from ${lo} to ${hi}`);
      return v;
    };
    return { steps: int(p.steps, 3, 1, 1000, 'steps'), stepMs: int(p.stepMs, 10, 0, 60_000, 'stepMs'), failAttempts: int(p.failAttempts, 0, 0, 10, 'failAttempts') };
  },
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
