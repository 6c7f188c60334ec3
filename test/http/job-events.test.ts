import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRedis } from '../../src/queue/connection.js';
import { startTrainingWorker } from '../../src/queue/job-runner.js';
import { auth, build } from '../helper.js';

async function readEvents(url: string): Promise<{ event: string; data: string }[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.startsWith('event:')).map((block) => {
    const lines = block.split('\n');
    return { event: lines.find((l) => l.startsWith('event: '))!.slice(7), data: lines.find((l) => l.startsWith('data: '))!.slice(6) };
  });
}

test('GET /v1/jobs/{id}/events streams every state of a job until it ends', async (t) => {
  const app = await build(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const connection = createRedis(app.config.redisUrl);
  const worker = startTrainingWorker({ pool: app.pg, connection, prefix: app.config.queuePrefix, concurrency: 1, backend: 'wasm', logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await worker.shutdown(5000);
    connection.disconnect();
  });

  const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'selftest', steps: 5, stepMs: 60 } });
  assert.equal(created.statusCode, 202);
  const events = await readEvents(`${base}/v1/jobs/${created.json().id}/events`);
  assert.equal(events.at(-1)?.event, 'end');
  const jobs = events.filter((e) => e.event === 'job').map((e) => JSON.parse(e.data));
  assert.equal(jobs.at(-1).state, 'completed');
  const steps = jobs.map((j) => j.progress?.step).filter((s) => s !== undefined);
  assert.ok(steps.length >= 3, `saw progress steps ${JSON.stringify(steps)}`);
  assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'progress never goes backwards');
  assert.equal(steps.at(-1), 5);

  // A finished job answers with its final state and ends at once.
  const again = await readEvents(`${base}/v1/jobs/${created.json().id}/events`);
  assert.deepEqual(again.map((e) => e.event), ['job', 'end']);

  // Cancelling a running job: the row says cancelled at once, the worker stops at its next step and takes the next job.
  const long = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'selftest', steps: 200, stepMs: 50 } })).json();
  for (let i = 0; i < 200; i++) {
    const j = (await app.inject(`/v1/jobs/${long.id}`)).json();
    if (j.state === 'active' && j.progress) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const cancelled = await app.inject({ method: 'DELETE', url: `/v1/jobs/${long.id}`, headers: auth });
  assert.equal(cancelled.statusCode, 200);
  assert.equal(cancelled.json().state, 'cancelled');
  const next = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'selftest', steps: 1, stepMs: 0 } })).json();
  const tail = await readEvents(`${base}/v1/jobs/${next.id}/events`);
  assert.equal(JSON.parse(tail.filter((e) => e.event === 'job').at(-1)!.data).state, 'completed');
  const final = (await app.inject(`/v1/jobs/${long.id}`)).json();
  assert.equal(final.state, 'cancelled');
  assert.ok((final.progress?.step ?? 0) < 200);
  const twice = await app.inject({ method: 'DELETE', url: `/v1/jobs/${long.id}`, headers: auth });
  assert.equal(twice.statusCode, 409);

  const missing = await fetch(`${base}/v1/jobs/00000000-0000-4000-8000-000000000000/events`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /problem\+json/);
});
