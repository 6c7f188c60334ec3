import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRedis } from '../../src/queue/connection.js';
import { startJobRunner } from '../../src/queue/job-runner.js';
import { auth, build, tinyDataset, until } from '../helper.js';
import { freePort, OwnRedis } from './services.js';

/** Resolves with `p`, or fails the test if it has not settled within `ms` (a hang guard, not a speed assertion). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not answer (hang)`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}


test('Redis faults: jobs exist exactly once, as the client sees them', async (t) => {
  const redis = new OwnRedis(await freePort());
  await redis.start();
  const app = await build(t, { redisUrl: redis.url });
  const { dataset, split } = await tinyDataset(app);
  const submit = (name: string) => app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset, split, name, epochs: 2, patience: 2 } });
  const job = async (id: string) => (await app.inject({ url: `/v1/jobs/${id}`, headers: auth })).json();
  const models = async () => (await app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM models WHERE NOT shipped')).rows[0].n;

  await t.test('with Redis down, a submit answers 202 without hanging, predictions still work, and the job runs once Redis is back', async () => {
    await redis.stop();
    const res = await within(15_000, 'POST /v1/jobs with Redis down', submit('while-down'));
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().id;
    assert.equal((await job(id)).state, 'queued');
    const predict = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }] } });
    assert.equal(predict.statusCode, 200, 'predictions do not need Redis');

    await redis.start();
    const connection = createRedis(redis.url);
    const runner = startJobRunner({ pool: app.pg, connection, prefix: app.config.queuePrefix, concurrency: 1, backend: 'wasm', logger: pino({ level: 'silent' }) });
    t.after(async () => {
      await runner.shutdown(5000);
      connection.disconnect();
    });
    // The API's own reconciler runs on reconnect and every few seconds; run a pass now as well.
    await until('the job to be handed to the restarted Redis', async () => ((await app.reconciler.runOnce())?.requeued ? true : (await job(id)).state !== 'queued' ? true : undefined));
    const done = await until('the job to finish', async () => {
      const j = await job(id);
      return ['completed', 'failed'].includes(j.state) ? j : undefined;
    });
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.attempts, 1, 'it ran once');
    assert.equal(await models(), 1, 'exactly one model row');
  });

  await t.test('Redis restarted empty: a queued job is queued again and runs; no job is left waiting forever', async () => {
    // No worker may take it before the restart: stop the runner's Redis first by restarting Redis empty right away.
    await redis.stop();
    const res = await within(15_000, 'POST /v1/jobs', submit('after-restart'));
    const id = res.json().id;
    await redis.start();
    const done = await until('the job to run after Redis came back empty', async () => {
      await app.reconciler.runOnce();
      const j = await job(id);
      return ['completed', 'failed'].includes(j.state) ? j : undefined;
    }, 90_000);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(await models(), 2);
    assert.equal((await app.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE state IN ('queued', 'active')`)).rows[0].n, 0);
  });

  await t.test('a stored job no worker can run is failed by the reconciler, saying why', async () => {
    const { rows } = await app.pg.query<{ id: string }>(
      `INSERT INTO jobs (owner, type, payload, updated_at) VALUES ('default', 'fine-tune', '{"type":"fine-tune"}', now() - interval '1 minute') RETURNING id`,
    );
    const j = await until('the reconciler to fail the job', async () => {
      await app.reconciler.runOnce();
      const row = await job(rows[0].id);
      return row.state === 'failed' ? row : undefined;
    }, 30_000);
    assert.match(j.error, /cannot be run: its stored payload is not a valid fine-tune job/);
  });

  // Registered last, so the app and the worker close while their Redis still answers.
  t.after(() => redis.stop());
});
