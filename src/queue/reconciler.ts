/**
 * Postgres is the source of truth for jobs; Redis only carries the queue. The reconciler makes Redis agree:
 * - a queued row with no BullMQ job (Redis was down at submit, or restarted empty) is handed to BullMQ again;
 * - an active row whose BullMQ job vanished and that has made no progress for a while (Redis lost it while its worker
 *   died) goes back to queued and is handed over again;
 * - a row whose BullMQ job failed for good is marked failed with BullMQ's reason;
 * - a row no worker can run (unknown type, a payload that does not check) is failed, saying why.
 * One process at a time does this (a Postgres advisory lock), every few seconds and whenever Redis reconnects.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { Value } from 'typebox/value';
import { failJob, pendingJobs, requeueJob, withTryLock, type JobRow } from '../db/job-queries.js';
import type { Pool } from '../db/pool.js';
import { addToQueue } from './queues.js';
import { jobDefinition } from './registry.js';

const LOCK_KEY = 7_243_118_002;

export interface ReconcileCounts {
  requeued: number;
  failed: number;
  ok: number;
}

export interface ReconcilerOptions {
  pool: Pool;
  queue: Queue;
  logger: Pick<Logger, 'info' | 'warn'>;
  intervalMs?: number;
  /** A queued row younger than this may still be on its way to Redis. */
  queuedGraceS?: number;
  /** An active row without progress for this long may have lost its worker (training reports every epoch). */
  activeStaleS?: number;
}

/** Why no worker can run this row, or undefined when one can. */
function unrunnable(row: JobRow): string | undefined {
  const def = jobDefinition(row.type);
  if (!def) return `no worker runs jobs of type "${row.type}"`;
  if (!Value.Check(def.payload, row.payload)) return `its stored payload is not a valid ${row.type} job: ${[...Value.Errors(def.payload, row.payload)][0]?.message ?? 'invalid'}`;
  return undefined;
}

export async function reconcileOnce(opts: ReconcilerOptions): Promise<ReconcileCounts | undefined> {
  return withTryLock(opts.pool, LOCK_KEY, async () => {
    const counts = { requeued: 0, failed: 0, ok: 0 };
    for (const row of await pendingJobs(opts.pool, opts.queuedGraceS ?? 5, opts.activeStaleS ?? 120)) {
      const why = unrunnable(row);
      if (why) {
        await failJob(opts.pool, row.id, `cannot be run: ${why}`, true);
        opts.logger.warn({ jobId: row.id, reason: why }, 'job failed by the reconciler');
        counts.failed++;
        continue;
      }
      const queued = await opts.queue.getJob(row.id);
      const state = queued ? await queued.getState() : 'missing';
      if (state === 'failed') {
        await failJob(opts.pool, row.id, queued?.failedReason || 'failed in the queue', true);
        counts.failed++;
      } else if (state === 'missing' || state === 'unknown') {
        if (row.state === 'active') await requeueJob(opts.pool, row.id, 'its worker and its queue entry were lost; queued again');
        await addToQueue(opts.queue, row);
        opts.logger.info({ jobId: row.id, was: row.state }, 'job handed to the queue again');
        counts.requeued++;
      } else {
        counts.ok++;
      }
    }
    return counts;
  });
}

/** Runs the reconciler every `intervalMs` and when `onReady` fires (Redis reconnected); errors are logged and retried. */
export function startReconciler(opts: ReconcilerOptions & { onReady?(listener: () => void): void }): { stop(): void; runOnce(): Promise<ReconcileCounts | undefined> } {
  let running = false;
  const tick = async (): Promise<ReconcileCounts | undefined> => {
    if (running) return undefined;
    running = true;
    try {
      return await reconcileOnce(opts);
    } catch (err) {
      opts.logger.warn({ err: (err as Error).message }, 'reconciler pass failed; retrying later');
      return undefined;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 10_000);
  timer.unref();
  opts.onReady?.(() => void tick());
  return { stop: () => clearInterval(timer), runOnce: tick };
}
