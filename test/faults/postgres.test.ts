import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { auth, build, tinyDataset, until } from '../helper.js';

const SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}


test('Postgres faults: its database dropped and recreated under a running API', async (t) => {
  const app = await build(t);
  const name = new URL(app.config.databaseUrl).pathname.slice(1);
  await tinyDataset(app);
  const predict = () => app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }] } });
  assert.equal((await predict()).statusCode, 200);

  await t.test('while the database is gone: data routes are 503 dependency_unavailable naming Postgres, never 500', async () => {
    await admin(`DROP DATABASE "${name}" WITH (FORCE)`);
    const res = await app.inject({ url: '/v1/datasets', headers: auth });
    assert.equal(res.statusCode, 503, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(res.json().code, 'dependency_unavailable');
    assert.equal(res.json().dependency, 'postgres');
    assert.ok(Number(res.headers['retry-after']) > 0);
    // A loaded model may still answer; if not, it is the same 503, never a 500.
    const p = await predict();
    assert.ok(p.statusCode === 200 || (p.statusCode === 503 && p.json().code === 'dependency_unavailable'), p.body);
  });

  await t.test('once the database exists again (recreated empty), the service rebuilds its schema and recovers without a restart', async () => {
    await admin(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
      // The API may already have recreated it itself on the first failing request.
      if (err.code !== '42P04' && err.code !== '23505') throw err;
    });
    const list = await until('the datasets route to answer again', async () => {
      const r = await app.inject({ url: '/v1/datasets', headers: auth });
      return r.statusCode === 200 ? r : undefined;
    });
    assert.equal(list.json().total, 0, 'the old data went with the dropped database');
    // The rebuild seeds the shipped experts and models after the migrations; wait for it to finish.
    await until('the shipped experts and models to be seeded again', async () => ((await predict()).statusCode === 200 ? true : undefined));
    assert.ok((await app.inject('/v1/experts')).json().total >= 18);
    assert.equal((await predict()).statusCode, 200);
    await tinyDataset(app);
    assert.equal((await app.inject({ url: '/v1/datasets', headers: auth })).json().total, 1);
    const ready = await app.inject('/health/ready');
    assert.equal(ready.statusCode, 200, ready.body);
  });
});
