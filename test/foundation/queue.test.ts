import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { prepareInfrastructure } from '../../src/boot.js';
import { getJob, type JobRow } from '../../src/db/job-queries.js';
import type { Pool } from '../../src/db/pool.js';
import { createRedis } from '../../src/queue/connection.js';
import { createTrainingQueue, enqueueJob } from '../../src/queue/queues.js';
import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { dropIsolated, isolatedConfig } from '../helper.js';

const config = isolatedConfig();
let pool: Pool;
let redis: Redis;
let queue: Queue;
const children: ChildProcess[] = [];

function startWorker(env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/selftest-worker.ts'], {
    env: { ...process.env, DATABASE_URL: config.databaseUrl, REDIS_URL: config.redisUrl, QUEUE_PREFIX: config.queuePrefix, LOG_LEVEL: 'info', TFJS_BACKEND: 'cpu', SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => { out += d; });
  child.stderr?.on('data', (d) => { out += d; });
  children.push(child);
  return Object.assign(child, { output: () => out });
}

/** A test-only selftest job (test/support/selftest-job.ts), enqueued the way the job service does. */
async function enqueueSelftest(payload: { steps: number; stepMs: number; failAttempts: number }, jobOptions?: JobsOptions): Promise<JobRow> {
  return (await enqueueJob(pool, queue, { id: randomUUID(), owner: 'default', type: 'selftest', payload }, jobOptions)).row;
}

async function waitFor(jobId: string, pred: (j: JobRow) => boolean, timeoutMs = 30_000): Promise<JobRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(pool, jobId);
    if (job && pred(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach the expected state; last: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}

before(async () => {
  pool = await prepareInfrastructure(config);
  redis = createRedis(config.redisUrl);
  queue = createTrainingQueue(redis, config.queuePrefix);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await queue.close();
  redis.disconnect();
  await pool.end();
  await dropIsolated(config);
});

test('a job enqueued through the queue module is completed by a separate worker process, mirrored in Postgres', async () => {
  const worker = startWorker();
  const job = await enqueueSelftest({ steps: 3, stepMs: 20, failAttempts: 0 });
  assert.equal(job.state, 'queued');
  const done = await waitFor(job.id, (j) => j.state === 'completed' || j.state === 'failed');
  assert.equal(done.state, 'completed', worker.output());
  assert.equal(done.result?.steps, 3);
  assert.deepEqual(done.progress, { step: 3, steps: 3 });
  assert.equal(done.attempts, 1);
  assert.equal(done.backend, 'cpu');
  assert.ok(done.startedAt && done.finishedAt && done.finishedAt >= done.startedAt);
  worker.kill('SIGTERM');
  assert.equal(await exitOf(worker, 10_000), 0, worker.output());
});

test('a failing attempt is retried with backoff and then completes', async () => {
  const worker = startWorker();
  const job = await enqueueSelftest({ steps: 1, stepMs: 0, failAttempts: 1 }, { backoff: { type: 'fixed', delay: 100 } });
  const done = await waitFor(job.id, (j) => j.state === 'completed' || j.state === 'failed');
  assert.equal(done.state, 'completed', worker.output());
  assert.equal(done.attempts, 2);
  assert.equal(done.result?.attempt, 2);
  worker.kill('SIGTERM');
  await exitOf(worker, 10_000);
});

test('a job that fails every attempt ends failed with its error', async () => {
  const worker = startWorker();
  const job = await enqueueSelftest({ steps: 1, stepMs: 0, failAttempts: 5 }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
  const done = await waitFor(job.id, (j) => j.state === 'failed');
  assert.match(done.error ?? '', /failing on purpose/);
  assert.equal(done.attempts, 2);
  worker.kill('SIGTERM');
  await exitOf(worker, 10_000);
});

test('SIGTERM on the worker mid-job releases the job, which another worker then completes (not lost)', async () => {
  const first = startWorker();
  const job = await enqueueSelftest({ steps: 40, stepMs: 100, failAttempts: 0 });
  await waitFor(job.id, (j) => j.state === 'active' && (j.progress?.step as number) >= 2);
  first.kill('SIGTERM');
  // Exit code 0 within the hang guard: the worker released its job and stopped by itself (a SIGKILL would give null).
  assert.equal(await exitOf(first, 15_000), 0, first.output());
  const released = await getJob(pool, job.id);
  assert.equal(released?.state, 'queued', first.output());
  assert.match(first.output(), /released on shutdown/);

  const second = startWorker();
  const done = await waitFor(job.id, (j) => j.state === 'completed', 30_000);
  assert.equal(done.result?.steps, 40);
  second.kill('SIGTERM');
  await exitOf(second, 10_000);
});

test('an unreachable Postgres or Redis at start-up is one clear line and exit code 1', async () => {
  const noPg = startWorker({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/matmoe', LOG_LEVEL: 'silent' });
  assert.equal(await exitOf(noPg, 15_000), 1);
  const pgLines = noPg.output().trim().split('\n');
  assert.equal(pgLines.length, 1, noPg.output());
  assert.match(pgLines[0], /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/matmoe/);

  const noRedis = startWorker({ REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'silent' });
  assert.equal(await exitOf(noRedis, 15_000), 1);
  const redisLines = noRedis.output().trim().split('\n');
  assert.equal(redisLines.length, 1, noRedis.output());
  assert.match(redisLines[0], /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);

  const badConfig = startWorker({ TFJS_BACKEND: 'quantum', LOG_LEVEL: 'silent' });
  assert.equal(await exitOf(badConfig, 15_000), 1);
  assert.match(badConfig.output(), /invalid TFJS_BACKEND "quantum"/);
});
