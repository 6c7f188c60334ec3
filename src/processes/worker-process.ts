import closeWithGrace from 'close-with-grace';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { exitOnStartupError, prepareInfrastructure } from '../boot.js';
import { loadConfig, type Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { initBackend } from '../ml/backend.js';
import { createRedis } from '../queue/connection.js';
import { startJobRunner } from '../queue/job-runner.js';

/**
 * The training worker process: pulls jobs from the `training` queue until SIGTERM/SIGINT, then finishes or releases
 * its running job within SHUTDOWN_TIMEOUT_MS. Logs are JSON lines.
 */
export async function runWorker(): Promise<void> {
  let config: Config;
  let pool: Pool;
  try {
    config = loadConfig();
    pool = await prepareInfrastructure(config);
  } catch (err) {
    exitOnStartupError('worker', err);
  }
  const logger = pino({ level: config.logLevel, name: 'matmoe-worker' });
  const backend = await initBackend(config.tfjsBackend);
  const connection = createRedis(config.redisUrl, {}, logger);
  const runner = startJobRunner({ pool, connection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, training: { processes: config.trainingProcesses, checkpointSeconds: config.checkpointSeconds }, backend: backend.name, logger });
  logger.info({ backend: backend.name, queue: config.queuePrefix }, 'worker ready');

  // Liveness for container healthchecks: the file's mtime is fresh while the worker holds a live Redis connection.
  const heartbeatFile = process.env.WORKER_HEARTBEAT_FILE || join(tmpdir(), 'matmoe-worker.heartbeat');
  const beat = (): void => {
    if (connection.status === 'ready') writeFile(heartbeatFile, String(Date.now())).catch(() => {});
  };
  beat();
  setInterval(beat, 10_000).unref();

  closeWithGrace({
    delay: config.shutdownTimeoutMs + 2000,
    logger: { error: (m: unknown) => logger.error({ err: m }, 'worker stopped by an error') },
  }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'worker closing after an uncaught error');
    else logger.info({ signal }, 'worker shutting down');
    await runner.shutdown(config.shutdownTimeoutMs);
    connection.disconnect();
    await pool.end().catch(() => {});
    logger.info('worker stopped');
  });
}
