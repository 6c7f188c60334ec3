import type { Queryable } from './pool.js';

export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface JobRow {
  id: string;
  type: string;
  state: JobState;
  payload: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  backend: string | null;
  idempotencyKey: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const COLUMNS = `id, type, state, payload, progress, result, error, attempts, backend,
  idempotency_key AS "idempotencyKey", created_at AS "createdAt", updated_at AS "updatedAt",
  started_at AS "startedAt", finished_at AS "finishedAt"`;

export async function insertJob(db: Queryable, type: string, payload: Record<string, unknown>, idempotencyKey?: string): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (type, payload, idempotency_key) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
    [type, payload, idempotencyKey ?? null],
  );
  return rows[0];
}

export async function getJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0];
}

export async function getJobByIdempotencyKey(db: Queryable, key: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE idempotency_key = $1`, [key]);
  return rows[0];
}

/** A job that is already finished (e.g. cancelled meanwhile) is not reopened: returns false. */
export async function markJobActive(db: Queryable, id: string, attempt: number, backend: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET state = 'active', attempts = $2, backend = $3, started_at = COALESCE(started_at, now()), error = NULL
     WHERE id = $1 AND state IN ('queued', 'active')`,
    [id, attempt, backend],
  );
  return rowCount === 1;
}

export async function setJobProgress(db: Queryable, id: string, progress: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE jobs SET progress = $2 WHERE id = $1 AND state = 'active'`, [id, progress]);
}

export async function completeJob(db: Queryable, id: string, result: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE jobs SET state = 'completed', result = $2, finished_at = now() WHERE id = $1 AND state = 'active'`, [id, result]);
}

/** `final` = no retry is left; otherwise the row goes back to `queued` with the error recorded for the operator. */
export async function failJob(db: Queryable, id: string, error: string, final: boolean): Promise<void> {
  await db.query(
    final
      ? `UPDATE jobs SET state = 'failed', error = $2, finished_at = now() WHERE id = $1 AND state IN ('queued', 'active')`
      : `UPDATE jobs SET state = 'queued', error = $2 WHERE id = $1 AND state IN ('queued', 'active')`,
    [id, error],
  );
}

/** A job released by a worker that is shutting down goes back to the queue without losing an attempt. */
export async function requeueJob(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(`UPDATE jobs SET state = 'queued', error = $2 WHERE id = $1 AND state = 'active'`, [id, reason]);
}

export async function cancelJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id = $1 AND state IN ('queued', 'active') RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0];
}
