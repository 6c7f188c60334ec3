/** Training checkpoints of running jobs (migration 006): one row per training run of a job. */
import type { Queryable } from './pool.js';

export interface RunCheckpoint {
  done: boolean;
  bytes: Buffer;
}

export async function getRunCheckpoint(db: Queryable, jobId: string, runKey: string): Promise<RunCheckpoint | undefined> {
  const { rows } = await db.query<RunCheckpoint>('SELECT done, bytes FROM job_checkpoints WHERE job_id = $1 AND run_key = $2', [jobId, runKey]);
  return rows[0];
}

/** A finished run's result is never replaced by a later trainer state of the same run. */
export async function saveRunCheckpoint(db: Queryable, jobId: string, runKey: string, c: { done: boolean; bytes: Uint8Array }): Promise<void> {
  await db.query(
    `INSERT INTO job_checkpoints (job_id, run_key, done, bytes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (job_id, run_key) DO UPDATE SET done = EXCLUDED.done, bytes = EXCLUDED.bytes, updated_at = now()
     WHERE NOT job_checkpoints.done`,
    [jobId, runKey, c.done, Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength)],
  );
}

export async function deleteJobCheckpoints(db: Queryable, jobId: string): Promise<void> {
  await db.query('DELETE FROM job_checkpoints WHERE job_id = $1', [jobId]);
}
