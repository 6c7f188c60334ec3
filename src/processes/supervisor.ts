import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runApi } from './api-process.js';

const WORKER_ENTRY = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../worker.ts' : '../worker.js', import.meta.url));

/** Starts the worker as a child process; a second argument to node loads tsx when running from TypeScript sources. */
function spawnWorker(): ChildProcess {
  const args = WORKER_ENTRY.endsWith('.ts') ? ['--import', 'tsx', WORKER_ENTRY] : [WORKER_ENTRY];
  return spawn(process.execPath, args, { stdio: 'inherit', env: process.env });
}

/** `npm start`: the API in this process and one training worker in a child process, stopped together. */
export async function runAll(): Promise<void> {
  let stopping = false;
  let worker = spawnWorker();
  let restarts = 0;
  const watch = (child: ChildProcess): void => {
    child.on('exit', (code, signal) => {
      if (stopping) return;
      // Start-up failures (exit 1 within seconds) would loop forever; give up after a few.
      if (++restarts > 5) {
        process.stderr.write(`matmoe: the worker keeps exiting (last: ${signal ?? code}); stopping\n`);
        process.kill(process.pid, 'SIGTERM');
        return;
      }
      process.stderr.write(`matmoe: worker exited (${signal ?? code}); restarting\n`);
      setTimeout(() => { worker = spawnWorker(); watch(worker); }, 1000);
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
