import type { Static, TSchema } from 'typebox';
import type { Pool } from '../db/pool.js';

/** How a worker trains: child processes a training job may use (0: one per core), and how often a run checkpoints. */
export interface TrainingSettings {
  processes: number;
  checkpointSeconds: number;
}

/** What a job implementation gets from the worker. */
export interface JobContext<P> {
  jobId: string;
  /** The principal that submitted the job. */
  owner: string;
  attempt: number;
  payload: P;
  /** Aborted when the job is cancelled or the worker shuts down; long work must check it at least once per step. */
  signal: AbortSignal;
  /** Persists progress (Postgres row and BullMQ progress event); throws AbortError if the job was cancelled. */
  reportProgress(progress: Record<string, unknown>): Promise<void>;
  backend: string;
  training: TrainingSettings;
  pool: Pool;
}

/**
 * A kind of background job as the workers know it: the schema its stored payload must satisfy (checked with Value.Parse
 * before it runs) and what running it does. What a client may ask for, and how a request becomes a payload, is the
 * services' business (src/services/job-requests.ts); a worker only trusts what it checks here.
 */
export interface JobDefinition<S extends TSchema = TSchema> {
  type: string;
  payload: S;
  run(ctx: JobContext<Static<S>>): Promise<Record<string, unknown>>;
}

export class AbortedError extends Error {
  constructor(readonly reason: 'cancelled' | 'shutdown') {
    super(reason === 'cancelled' ? 'job cancelled' : 'worker shutting down');
    this.name = 'AbortedError';
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
