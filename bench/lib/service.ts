/**
 * The service as a benchmark meets it: its own process (`src/cli.ts api` or `serve`) on a free port, with its own
 * database and queue prefix, ready when /health/ready says so; stopped and cleaned up by `stop()`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { ROOT } from '../../src/paths.js';
import { dropIsolated, isolatedConfig, TEST_API_KEY } from '../../test/helper.js';

export interface RunningService {
  base: string;
  databaseUrl: string;
  authorization: string;
  /** Lines the service wrote (at LOG_LEVEL, default error). */
  output: string[];
  alive(): Promise<boolean>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

export async function startService(command: 'api' | 'serve', env: Record<string, string> = {}): Promise<RunningService> {
  const config = isolatedConfig();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', command], {
    cwd: ROOT,
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: config.databaseUrl, REDIS_URL: config.redisUrl, QUEUE_PREFIX: config.queuePrefix,
      API_KEYS: `${TEST_API_KEY},bob:bob-key-9876543210`, LOG_LEVEL: 'error', TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'wasm', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (d: Buffer) => output.push(...d.toString().split('\n').filter((l) => l.trim() !== '')));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    await dropIsolated(config);
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`the service exited (${child.exitCode}):\n${output.join('\n')}`);
    }
    if (i > 600) {
      await stop();
      throw new Error('the service did not become ready within 2 minutes');
    }
    if (await fetch(`${base}/health/ready`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base, databaseUrl: config.databaseUrl, authorization: `Bearer ${TEST_API_KEY}`, output,
    alive: () => fetch(`${base}/health/live`).then((r) => r.ok, () => false),
    stop,
  };
}
