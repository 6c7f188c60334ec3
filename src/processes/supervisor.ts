import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { runApi } from './api-process.js';

const CLI = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../cli.ts' : '../cli.js', import.meta.url));

/** Restart delays grow with the crashes of the last CRASH_WINDOW_MS and never stop: the API keeps serving meanwhile. */
const CRASH_WINDOW_MS = 5 * 60_000;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;

export function restartDelay(crashTimes: readonly number[], now: number): number {
  const recent = crashTimes.filter((t) => now - t < CRASH_WINDOW_MS).length;
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, recent - 1));
}

/** The worker runs as `matmoe worker` in a child process; tsx is loaded when running from TypeScript sources. */
function spawnWorker(): ChildProcess {
  const args = CLI.endsWith('.ts') ? ['--import', 'tsx', CLI, 'worker'] : [CLI, 'worker'];
  return spawn(process.execPath, args, { stdio: 'inherit', env: process.env });
}

/**
 * `npm start`: the API in this process and one training worker in a child process. A worker that exits unexpectedly is
 * restarted with exponential backoff over a sliding window (a worker crashing at start does not spin), and the API is
 * never taken down by it. SIGTERM/SIGINT stop both.
 */
export async function runAll(): Promise<void> {
  const log = pino({ name: 'matmoe-supervisor' });
  let stopping = false;
  const crashes: number[] = [];
  let worker = spawnWorker();
  const watch = (child: ChildProcess): void => {
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && now - crashes[0] > CRASH_WINDOW_MS) crashes.shift();
      const delay = restartDelay(crashes, now);
      log.warn({ code, signal, restartInMs: delay, crashesInWindow: crashes.length }, 'worker exited; restarting');
      setTimeout(() => {
        if (stopping) return;
        worker = spawnWorker();
        watch(worker);
      }, delay).unref();
    });
  };
  watch(worker);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      if (worker.exitCode === null) worker.kill('SIGTERM');
    });
  }
  await runApi();
}
