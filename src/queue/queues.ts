import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { failJob, insertJob, type JobRow, type NewJob } from '../db/job-queries.js';
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

/**
 * Records the job in Postgres first (the source of truth), then hands it to BullMQ under the same id.
 * If Redis refuses it, the row is marked failed so that no job is left waiting forever.
 */
export async function enqueueJob(pool: Pool, queue: Queue, job: NewJob, jobOptions?: JobsOptions): Promise<JobRow> {
  const row = await insertJob(pool, job);
  try {
    await queue.add(row.type, { jobId: row.id }, { ...jobOptions, jobId: row.id });
  } catch (err) {
    await failJob(pool, row.id, `could not be queued: ${(err as Error).message}`, true);
    throw err;
  }
  return row;
}
