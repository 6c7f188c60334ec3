import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';

export const TEST_API_KEY = 'test-key-0123456789';
/** A second principal, for tests of private data: "bob". TEST_API_KEY is a bare key, so its principal is "default". */
export const BOB_API_KEY = 'bob-key-9876543210';
const SERVER_URL = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh database name and queue prefix per test file, so files can run in parallel and leave nothing behind. */
export function isolatedConfig(overrides: Partial<Config> = {}): Config {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return loadConfig(
    { ...process.env, DATABASE_URL: `${SERVER_URL}/matmoe_test_${id}`, REDIS_URL, QUEUE_PREFIX: `matmoe-test-${id}`, API_KEYS: `${TEST_API_KEY},bob:${BOB_API_KEY}`, LOG_LEVEL: 'silent', RATE_LIMIT_ANONYMOUS: '0', RATE_LIMIT_KEYED: '0', MAX_EVENT_LOOP_DELAY_MS: '0', TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'wasm', SHUTDOWN_TIMEOUT_MS: '5000' },
    overrides,
  );
}

/** Drops the test database and deletes the test queue's Redis keys. */
export async function dropIsolated(config: Config): Promise<void> {
  const name = new URL(config.databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  // A test that stopped its own Redis has nothing left there to delete.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.queuePrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // unreachable: nothing to clean
  } finally {
    redis.disconnect();
  }
}

/** Builds the app against its own database and queue prefix; closes and cleans up when the test (file) ends. */
export async function build(t: Pick<TestContext, 'after'>, overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  const config = isolatedConfig(overrides);
  const app = await buildApp(config, { logger: false });
  t.after(async () => {
    await app.close();
    await dropIsolated(config);
  });
  await app.ready();
  return app;
}

export const auth = { authorization: `Bearer ${TEST_API_KEY}` };
export const bobAuth = { authorization: `Bearer ${BOB_API_KEY}` };

/** A small formula dataset (12 band gaps) and its default split, owned by the TEST_API_KEY principal. */
export async function tinyDataset(app: FastifyInstance, name = 'tiny gaps'): Promise<{ dataset: string; split: string }> {
  const rows = ['GaAs', 'Si', 'ZnO', 'GaN', 'InP', 'CdTe', 'AlN', 'MgO', 'NaCl', 'KCl', 'TiO2', 'Cu'].map((formula, i) => ({ formula, target: (i * 0.37) % 5 }));
  const ds = await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name, property: 'band gap', unit: 'eV', rows } });
  if (ds.statusCode !== 201 && ds.statusCode !== 200) throw new Error(`dataset upload failed: ${ds.body}`);
  const split = await app.inject({ method: 'POST', url: `/v1/datasets/${ds.json().id}/splits`, headers: auth, payload: {} });
  if (split.statusCode !== 201 && split.statusCode !== 200) throw new Error(`split failed: ${split.body}`);
  return { dataset: ds.json().id, split: split.json().id };
}

/** Polls `fn` until it returns a value; fails after `timeoutMs` (a hang guard, not a speed assertion). */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A `matmoe worker` process on the app's database and queue, stopped when the test ends; `output()` is what it logged. */
export function spawnWorker(t: Pick<TestContext, 'after'>, config: Config, env: Record<string, string> = {}): ChildProcess & { output(): string } {
  const worker = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
    env: { ...process.env, DATABASE_URL: config.databaseUrl, REDIS_URL: config.redisUrl, QUEUE_PREFIX: config.queuePrefix, LOG_LEVEL: 'warn', TFJS_BACKEND: 'wasm', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  worker.stdout?.on('data', (d) => { out += d; });
  worker.stderr?.on('data', (d) => { out += d; });
  t.after(async () => {
    if (worker.exitCode !== null || worker.signalCode !== null) return;
    const exited = once(worker, 'exit');
    worker.kill('SIGTERM');
    // A worker that does not stop within its shutdown timeout is killed, so a test never hangs on it.
    const timer = setTimeout(() => worker.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });
  return Object.assign(worker, { output: () => out });
}

