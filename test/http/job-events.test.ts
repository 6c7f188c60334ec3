import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRedis } from '../../src/queue/connection.js';
import { startJobRunner } from '../../src/queue/job-runner.js';
import { enqueueJob } from '../../src/queue/queues.js';
import { registerJobType } from '../../src/queue/registry.js';
import { auth, bobAuth, build } from '../helper.js';
import { selftestJob } from '../support/selftest-job.js';

// The selftest job type is not public: it is registered in this process only, and enqueued with the queue module.
registerJobType(selftestJob);

async function readEvents(url: string): Promise<{ event: string; data: string }[]> {
  const res = await fetch(url, { headers: auth });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.startsWith('event:')).map((block) => {
    const lines = block.split('\n');
    return { event: lines.find((l) => l.startsWith('event: '))!.slice(7), data: lines.find((l) => l.startsWith('data: '))!.slice(6) };
  });
}

test('GET /v1/jobs/{id}/events streams every state of a job until it ends; cancel stops the worker', async (t) => {
  const app = await build(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const connection = createRedis(app.config.redisUrl);
  const runner = startJobRunner({ pool: app.pg, connection, prefix: app.config.queuePrefix, concurrency: 1, backend: 'wasm', logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await runner.shutdown(5000);
    connection.disconnect();
  });
  const selftest = async (steps: number, stepMs: number) =>
    (await enqueueJob(app.pg, app.trainingQueue, { id: randomUUID(), owner: 'default', type: 'selftest', payload: { steps, stepMs, failAttempts: 0 } })).row;

  await t.test('the stream shows the job active, its progress in order, then its final state and "end"', async () => {
    const job = await selftest(5, 60);
    const events = await readEvents(`${base}/v1/jobs/${job.id}/events`);
    assert.equal(events.at(-1)?.event, 'end');
    const jobs = events.filter((e) => e.event === 'job').map((e) => JSON.parse(e.data));
    assert.ok(jobs.some((j) => j.state === 'active'), `the job was seen active: ${JSON.stringify(jobs.map((j) => j.state))}`);
    assert.equal(jobs.at(-1).state, 'completed');
    const steps = jobs.map((j) => j.progress?.step).filter((s) => s !== undefined);
    assert.ok(steps.length >= 3, `saw progress steps ${JSON.stringify(steps)}`);
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'progress never goes backwards');
    assert.equal(steps.at(-1), 5);
    // A finished job answers with its final state and ends at once.
    const again = await readEvents(`${base}/v1/jobs/${job.id}/events`);
    assert.deepEqual(again.map((e) => e.event), ['job', 'end']);
  });

  await t.test('a running job is cancelled: the row at once, the worker at its next step, and it takes the next job', async () => {
    const long = await selftest(200, 50);
    let active = false;
    for (let i = 0; i < 400 && !active; i++) {
      const j = (await app.inject({ url: `/v1/jobs/${long.id}`, headers: auth })).json();
      active = j.state === 'active' && j.progress !== null;
      if (!active) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(active, 'the job became active with progress before it was cancelled');
    const cancelled = await app.inject({ method: 'DELETE', url: `/v1/jobs/${long.id}`, headers: auth });
    assert.equal(cancelled.statusCode, 200);
    assert.equal(cancelled.json().state, 'cancelled');
    const next = await selftest(1, 0);
    const tail = await readEvents(`${base}/v1/jobs/${next.id}/events`);
    assert.equal(JSON.parse(tail.filter((e) => e.event === 'job').at(-1)!.data).state, 'completed');
    // The worker took the next job, so it had stopped the cancelled one, and it said where.
    const final = (await app.inject({ url: `/v1/jobs/${long.id}`, headers: auth })).json();
    assert.equal(final.state, 'cancelled');
    assert.equal(final.result?.cancelled, true, JSON.stringify(final));
    assert.ok(final.progress.step < 200);
    const twice = await app.inject({ method: 'DELETE', url: `/v1/jobs/${long.id}`, headers: auth });
    assert.equal(twice.statusCode, 409);
  });

  await t.test('jobs are private: another principal and anonymous readers get 404 and 401', async () => {
    const job = await selftest(1, 0);
    assert.equal((await app.inject({ url: `/v1/jobs/${job.id}`, headers: bobAuth })).statusCode, 404);
    assert.equal((await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: bobAuth })).status, 404);
    assert.equal((await app.inject({ url: `/v1/jobs/${job.id}` })).statusCode, 401);
    const missing = await fetch(`${base}/v1/jobs/00000000-0000-4000-8000-000000000000/events`, { headers: auth });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /problem\+json/);
  });
});
