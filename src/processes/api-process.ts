import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { exitOnStartupError } from '../boot.js';
import { loadConfig, type Config } from '../config.js';

/**
 * The HTTP API process. On SIGTERM/SIGINT it stops accepting connections and lets in-flight requests finish, within
 * SHUTDOWN_TIMEOUT_MS; an uncaught exception or unhandled rejection is logged as one JSON line and closes it the same way
 * (close-with-grace), so a supervisor can restart a clean process.
 */
export async function runApi(config?: Config): Promise<FastifyInstance> {
  let app: FastifyInstance;
  let cfg: Config;
  try {
    cfg = config ?? loadConfig();
    app = await buildApp(cfg);
    await app.listen({ port: cfg.port, host: cfg.host });
  } catch (err) {
    exitOnStartupError('api', err);
  }
  closeWithGrace({
    delay: cfg.shutdownTimeoutMs,
    logger: { error: (m: unknown) => app.log.error({ err: m }, 'api stopped by an error') },
    onTimeout: (ms) => app.log.warn({ ms }, 'in-flight requests did not finish in time; exiting'),
  }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing the API after an uncaught error');
    else app.log.info({ signal }, 'api shutting down');
    await app.close();
  });
  return app;
}
