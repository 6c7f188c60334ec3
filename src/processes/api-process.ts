import { buildApp } from '../app.js';
import { exitOnStartupError } from '../boot.js';
import { loadConfig, type Config } from '../config.js';

/** The HTTP API process: listens until SIGTERM/SIGINT, then lets in-flight requests finish (bounded) and exits. */
export async function runApi(config?: Config): Promise<void> {
  let app;
  try {
    config ??= loadConfig();
    app = await buildApp(config);
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    exitOnStartupError('api', err);
  }
  const timeoutMs = config.shutdownTimeoutMs;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'api shutting down');
    const force = setTimeout(() => {
      app.log.warn('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    app.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
