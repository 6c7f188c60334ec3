import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { restartDelay } from '../../src/processes/supervisor.js';
import { dropIsolated, isolatedConfig, until } from '../helper.js';
import { freePort } from '../faults/services.js';

test('restart delays double with the crashes of the last five minutes and never give up', () => {
  const now = 10_000_000;
  assert.equal(restartDelay([now], now), 1000);
  assert.equal(restartDelay([now - 2000, now - 1000, now], now), 4000);
  assert.equal(restartDelay(Array.from({ length: 30 }, (_, i) => now - i), now), 60_000, 'capped, not stopped');
  // Crashes older than the window are forgotten: a worker that ran for a while restarts quickly again.
  assert.equal(restartDelay([now - 10 * 60_000, now - 9 * 60_000, now], now), 1000);
});

function workerPids(parent: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}


test('npm start: a worker killed with SIGKILL again and again is restarted, and the API keeps serving', async (t) => {
  const config = isolatedConfig();
  const port = await freePort();
  const serve = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: config.databaseUrl, REDIS_URL: config.redisUrl, QUEUE_PREFIX: config.queuePrefix, LOG_LEVEL: 'warn', INFERENCE_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  serve.stdout?.on('data', (d) => { out += d; });
  serve.stderr?.on('data', (d) => { out += d; });
  t.after(async () => {
    if (serve.exitCode === null) {
      serve.kill('SIGTERM');
      await once(serve, 'exit');
    }
    await dropIsolated(config);
  });
  const live = async () => (await fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.status, () => 0)) === 200;
  await until('the API to listen', async () => ((await live()) ? true : undefined));
  let pid = await until('the first worker', async () => workerPids(serve.pid!)[0]);
  for (let kill = 0; kill < 3; kill++) {
    process.kill(pid, 'SIGKILL');
    assert.ok(await live(), `the API answers right after worker crash ${kill + 1}`);
    const dead = pid;
    pid = await until(`worker ${kill + 2} to be started`, async () => workerPids(serve.pid!).find((p) => p !== dead));
  }
  assert.ok(await live());
  assert.equal(serve.exitCode, null, `the supervisor is still running:\n${out}`);
  assert.match(out, /worker exited; restarting/);
});
