import fp from 'fastify-plugin';
import { migrate } from '../../db/migrate.js';
import { ensureDatabase, isSchemaMissing } from '../../db/pool.js';
import { UnavailableError } from '../../errors.js';
import { seedShippedModels } from '../../services/shipped-models.js';

/** The shortest pause between two attempts to rebuild the schema. */
const RETRY_MS = 2000;

/**
 * When the database was dropped (or recreated empty) under a running API, requests fail with 503 until it is back;
 * the first such failure starts a rebuild in the background — the database created if missing, migrations applied,
 * the shipped experts and models seeded — so the service recovers without a restart. One rebuild at a time.
 */
export default fp(async (app) => {
  let running: Promise<void> | undefined;
  let last = 0;
  const rebuild = (): void => {
    if (running || Date.now() - last < RETRY_MS) return;
    last = Date.now();
    running = (async () => {
      await ensureDatabase(app.config.databaseUrl);
      await migrate(app.pg);
      await app.experts.seed();
      await seedShippedModels(app.pg);
      app.log.info('database schema rebuilt after it went missing');
    })().catch((err: Error) => app.log.warn({ err: err.message }, 'database rebuild failed; retrying on the next request'))
      .finally(() => { running = undefined; });
  };
  app.addHook('onError', async (_request, _reply, error) => {
    if (isSchemaMissing(error)) rebuild();
  });
  // While the schema is being rebuilt nothing is there to answer from (a shipped model is not seeded yet): 503, retry.
  app.addHook('onRequest', async (request, reply) => {
    if (!running || request.url.startsWith('/health/')) return;
    reply.header('retry-after', '2');
    throw new UnavailableError('dependency_unavailable', 'PostgreSQL is being restored (its database was missing); retry in a few seconds', { dependency: 'postgres' });
  });
}, { name: 'db-recovery', dependencies: ['services'] });
