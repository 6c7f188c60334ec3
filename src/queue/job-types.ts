import type { Pool } from '../db/pool.js';

/** What a job implementation gets from the worker. */
export interface JobContext<P> {
  jobId: string;
  attempt: number;
  payload: P;
  /** Aborted when the job is cancelled or the worker shuts down; long work must check it at least once per step. */
  signal: AbortSignal;
  /** Persists progress (Postgres row and BullMQ progress event); throws AbortError if the job was cancelled. */
  reportProgress(progress: Record<string, unknown>): Promise<void>;
  backend: string;
  pool: Pool;
}

/** A job refused before it is queued: what it refers to is missing, conflicts, or cannot work. */
export class JobRejected extends Error {
  constructor(readonly reason: 'not_found' | 'conflict' | 'invalid', readonly code: string, message: string) {
    super(message);
    this.name = 'JobRejected';
  }
}

export interface JobDefinition<P = Record<string, unknown>> {
  type: string;
  /** Validates and normalises a payload; throws a plain Error with a user-facing message when it is unusable. */
  parsePayload(raw: unknown): P;
  /** Checks the payload against the database before queueing (throws JobRejected) and may normalise it further. */
  admit?(payload: P, deps: { pool: Pool }): Promise<P>;
  run(ctx: JobContext<P>): Promise<Record<string, unknown>>;
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
