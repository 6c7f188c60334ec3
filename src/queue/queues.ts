import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { insertJob, type JobRow, type NewJob } from '../db/job-queries.js';
import type { Pool } from '../db/pool.js';

export const TRAINING_QUEUE = 'training';

/** Bounded history in Redis (Postgres keeps the full record); retries with exponential backoff. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
  removeOnFail: { count: 5000, age: 30 * 24 * 3600 },
};

export function createTrainingQueue(connection: Redis, prefix: string): Queue {
  return new Queue(TRAINING_QUEUE, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

/** How long a submit waits for Redis before answering anyway (the reconciler queues the job when Redis is back). */
export const ENQUEUE_TIMEOUT_MS = 2000;

/** Hands a job to BullMQ under its Postgres id; BullMQ ignores a second add of the same id, so this can be repeated. */
export async function addToQueue(queue: Queue, row: Pick<JobRow, 'id' | 'type'>, jobOptions?: JobsOptions, timeoutMs = ENQUEUE_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.add(row.type, { jobId: row.id }, { ...jobOptions, jobId: row.id }),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`Redis is not answering (no reply within ${timeoutMs} ms)`)), timeoutMs); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Records the job in Postgres first (the source of truth), then hands it to BullMQ under the same id. When Redis does
 * not answer, the job stays queued in Postgres and is still accepted: the reconciler hands it to BullMQ once Redis is
 * back, so a client that got the job's id always gets the job, and no job runs that the client never heard of.
 */
export async function enqueueJob(pool: Pool, queue: Queue, job: NewJob, jobOptions?: JobsOptions): Promise<{ row: JobRow; queued: boolean }> {
  const row = await insertJob(pool, job);
  try {
    await addToQueue(queue, row, jobOptions);
    return { row, queued: true };
  } catch {
    return { row, queued: false };
  }
}
