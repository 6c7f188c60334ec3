import type { Queryable } from './pool.js';

export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface JobRow {
  id: string;
  owner: string;
  type: string;
  state: JobState;
  payload: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  backend: string | null;
  idempotencyKey: string | null;
  /** sha256 of the request that came with the Idempotency-Key. */
  requestHash: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const COLUMNS = `id, owner, type, state, payload, progress, result, error, attempts, backend,
  idempotency_key AS "idempotencyKey", request_hash AS "requestHash", created_at AS "createdAt", updated_at AS "updatedAt",
  started_at AS "startedAt", finished_at AS "finishedAt"`;

export interface NewJob {
  /** Chosen by the caller, so a default model name can be derived from it before the row exists. */
  id: string;
  owner: string;
  type: string;
  payload: Record<string, unknown>;
  idempotencyKey?: string;
  requestHash?: string;
}

export async function insertJob(db: Queryable, j: NewJob): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (id, owner, type, payload, idempotency_key, request_hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [j.id, j.owner, j.type, j.payload, j.idempotencyKey ?? null, j.requestHash ?? null],
  );
  return rows[0];
}

/** Any job, for the workers; requests go through getOwnedJob. */
export async function getJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0];
}

/** A job is only ever visible to the principal that submitted it. */
export async function getOwnedJob(db: Queryable, owner: string, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE owner = $1 AND id = $2`, [owner, id]);
  return rows[0];
}

export async function getJobByIdempotencyKey(db: Queryable, owner: string, key: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE owner = $1 AND idempotency_key = $2`, [owner, key]);
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

export async function cancelJob(db: Queryable, owner: string, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE owner = $1 AND id = $2 AND state IN ('queued', 'active') RETURNING ${COLUMNS}`,
    [owner, id],
  );
  return rows[0];
}

/** The worker's acknowledgement that a cancelled job has stopped (the route only marks the row). */
export async function recordCancelStop(db: Queryable, id: string, result: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE jobs SET result = $2 WHERE id = $1 AND state = 'cancelled'`, [id, result]);
}

/** A job's output (batch predictions: gzipped JSON lines); written in the transaction that completes the job. */
export async function insertJobOutput(db: Queryable, jobId: string, o: { mediaType: string; rows: number; bytes: Uint8Array }): Promise<void> {
  await db.query('INSERT INTO job_outputs (job_id, media_type, rows, bytes) VALUES ($1, $2, $3, $4)', [jobId, o.mediaType, o.rows, Buffer.from(o.bytes)]);
}

export async function getJobOutput(db: Queryable, owner: string, jobId: string): Promise<{ mediaType: string; rows: number; bytes: Buffer } | undefined> {
  const { rows } = await db.query<{ mediaType: string; rows: number; bytes: Buffer }>(
    `SELECT o.media_type AS "mediaType", o.rows, o.bytes FROM job_outputs o JOIN jobs j ON j.id = o.job_id WHERE j.owner = $1 AND o.job_id = $2`,
    [owner, jobId],
  );
  return rows[0];
}

/**
 * Queued and active jobs the reconciler should look at: queued ones untouched for `queuedGraceS` (a submit may still
 * be handing them to Redis), active ones without progress for `activeStaleS` (their worker may be gone).
 */
export async function pendingJobs(db: Queryable, queuedGraceS: number, activeStaleS: number, limit = 1000): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${COLUMNS} FROM jobs
     WHERE (state = 'queued' AND updated_at < now() - make_interval(secs => $1))
        OR (state = 'active' AND updated_at < now() - make_interval(secs => $2))
     ORDER BY created_at LIMIT $3`,
    [queuedGraceS, activeStaleS, limit],
  );
  return rows;
}

/** Runs `fn` only if no other process holds the lock; `undefined` when it was held elsewhere. */
export async function withTryLock<T>(pool: { connect(): Promise<{ query: Queryable['query']; release(): void }> }, key: number, fn: () => Promise<T>): Promise<T | undefined> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key]);
    if (!rows[0].locked) return undefined;
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } finally {
    client.release();
  }
}

/** Jobs by type and state, for the metrics. */
export async function jobCounts(db: Queryable): Promise<{ type: string; state: string; n: number }[]> {
  const { rows } = await db.query<{ type: string; state: string; n: number }>('SELECT type, state, count(*)::int AS n FROM jobs GROUP BY type, state');
  return rows;
}

/** Wall seconds spent by finished jobs, by type and final state, for the metrics. */
export async function jobSeconds(db: Queryable): Promise<{ type: string; state: string; s: number }[]> {
  const { rows } = await db.query<{ type: string; state: string; s: number }>(
    `SELECT type, state, coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)::float8 AS s
     FROM jobs WHERE finished_at IS NOT NULL AND started_at IS NOT NULL GROUP BY type, state`,
  );
  return rows;
}
