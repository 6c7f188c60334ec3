import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { exitOnStartupError, prepareInfrastructure } from '../boot.js';
import { loadConfig } from '../config.js';
import { initBackend } from '../ml/backend.js';
import { createRedis } from '../queue/connection.js';
import { startTrainingWorker } from '../queue/job-runner.js';

/** The training worker process: pulls jobs from the `training` queue until SIGTERM/SIGINT. */
export async function runWorker(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    exitOnStartupError('worker', err);
  }
  const logger = pino({ level: config.logLevel, name: 'matmoe-worker' });
  let pool;
  try {
    pool = await prepareInfrastructure(config);
  } catch (err) {
    exitOnStartupError('worker', err);
  }
  const backend = await initBackend(config.tfjsBackend);
  const connection = createRedis(config.redisUrl);
  connection.on('error', (err) => logger.error({ err: err.message }, 'redis connection error'));
  const worker = startTrainingWorker({ pool, connection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, backend: backend.name, logger });
  logger.info({ backend: backend.name, queue: config.queuePrefix }, 'worker ready');

  // Liveness for container healthchecks: the file's mtime is fresh while the worker holds a live Redis connection.
  const heartbeatFile = process.env.WORKER_HEARTBEAT_FILE || join(tmpdir(), 'matmoe-worker.heartbeat');
  const beat = (): void => {
    if (connection.status === 'ready') writeFile(heartbeatFile, String(Date.now())).catch(() => {});
  };
  beat();
  const heartbeat = setInterval(beat, 10_000);
  heartbeat.unref();

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker shutting down');
    await worker.shutdown(config.shutdownTimeoutMs);
    connection.disconnect();
    await pool.end().catch(() => {});
    logger.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

