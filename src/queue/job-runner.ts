import { Value } from 'typebox/value';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { completeJob, failJob, getJob, markJobActive, recordCancelStop, requeueJob, setJobProgress } from '../db/job-queries.js';
import { deleteJobCheckpoints } from '../db/checkpoint-queries.js';
import type { Pool } from '../db/pool.js';
import { AbortedError, type TrainingSettings } from './job-types.js';
import { TRAINING_QUEUE } from './queues.js';
import { jobDefinition } from './registry.js';

export interface JobRunner {
  worker: Worker;
  /** Stops taking jobs, asks running ones to stop and release themselves, and waits at most `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

export function startJobRunner(opts: {
  pool: Pool;
  connection: Redis;
  prefix: string;
  concurrency: number;
  backend: string;
  /** Default: a child process per core, a checkpoint every 60 s. */
  training?: Partial<TrainingSettings>;
  logger: Logger;
}): JobRunner {
  const { pool, logger } = opts;
  const running = new Map<string, AbortController>();
  let shuttingDown = false;

  const process = async (job: Job, token?: string): Promise<Record<string, unknown>> => {
    const id = job.id as string;
    const attempt = job.attemptsMade + 1;
    const def = jobDefinition(job.name);
    if (!def) throw new UnrecoverableError(`unknown job type "${job.name}"`);
    const row = await getJob(pool, id);
    if (!row) throw new UnrecoverableError(`job ${id} has no Postgres record`);
    if (!(await markJobActive(pool, id, attempt, opts.backend))) return { skipped: row.state };

    const controller = new AbortController();
    running.set(id, controller);
    const log = logger.child({ jobId: id, type: job.name, attempt });
    log.info('job started');
    try {
      let payload: unknown;
      try {
        payload = Value.Parse(def.payload, row.payload);
      } catch (err) {
        throw new UnrecoverableError(`the stored payload is not a valid ${job.name} job: ${(err as Error).message}`);
      }
      const result = await def.run({
        jobId: id,
        owner: row.owner,
        attempt,
        payload,
        signal: controller.signal,
        backend: opts.backend,
        training: { processes: opts.training?.processes ?? 0, checkpointSeconds: opts.training?.checkpointSeconds ?? 60 },
        pool,
        async reportProgress(progress) {
          if (controller.signal.aborted) throw controller.signal.reason;
          await setJobProgress(pool, id, progress);
          await job.updateProgress(progress);
          const now = await getJob(pool, id);
          if (now?.state === 'cancelled') {
            controller.abort(new AbortedError('cancelled'));
            throw controller.signal.reason;
          }
        },
      });
      await completeJob(pool, id, result);
      log.info('job completed');
      return result;
    } catch (err) {
      if (err instanceof AbortedError && err.reason === 'shutdown') {
        // Give the job back to the queue untouched: another worker picks it up, no attempt is spent.
        await job.moveToWait(token);
        await requeueJob(pool, id, 'released by a worker that shut down; will resume on another worker');
        log.warn('job released on shutdown');
        throw new WaitingError();
      }
      if (err instanceof AbortedError && err.reason === 'cancelled') {
        // The route marked the row cancelled; this says the worker has really stopped, and where.
        const epoch = (await getJob(pool, id))?.progress?.epoch;
        const result = { cancelled: true, stoppedAt: new Date().toISOString(), ...(typeof epoch === 'number' ? { stoppedAtEpoch: epoch } : {}) };
        await recordCancelStop(pool, id, result);
        await deleteJobCheckpoints(pool, id);
        log.info(result, 'job cancelled');
        return result;
      }
      const message = (err as Error).message || String(err);
      const final = err instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1);
      await failJob(pool, id, message, final);
      // A retry resumes from the checkpoints; a job that will not run again has no use for them.
      if (final) await deleteJobCheckpoints(pool, id);
      log.error({ err }, final ? 'job failed' : 'job attempt failed; will retry');
      throw err;
    } finally {
      running.delete(id);
    }
  };

  const worker = new Worker(TRAINING_QUEUE, process, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // The lock is renewed every 5 s while a job runs (training runs in child processes, so this event loop stays free);
    // a worker that dies loses it 5–10 s later, and a live worker's stalled check, every 3 s, hands the job on: a
    // crashed worker's job runs again within about 10 s and resumes from its checkpoints. Twice at most.
    lockDuration: 10_000,
    stalledInterval: 3_000,
    maxStalledCount: 2,
  });
  worker.on('error', (err) => logger.error({ err }, 'worker error'));

  return {
    worker,
    async shutdown(timeoutMs) {
      if (shuttingDown) return;
      shuttingDown = true;
      for (const c of running.values()) c.abort(new AbortedError('shutdown'));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
      const outcome = await Promise.race([worker.close().then(() => 'closed' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn('worker did not stop in time; closing forcefully (its job will be retried after its lock expires)');
        await worker.close(true).catch(() => {});
      }
    },
  };
}
