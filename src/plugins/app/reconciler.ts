import fp from 'fastify-plugin';
import { startReconciler } from '../../queue/reconciler.js';

/** Keeps the queue in Redis in agreement with the jobs in Postgres (src/queue/reconciler.ts), from the API process. */
export default fp(async (app) => {
  const reconciler = startReconciler({
    pool: app.pg, queue: app.trainingQueue, logger: app.log,
    onReady: (listener) => app.redis.on('ready', listener),
  });
  app.decorate('reconciler', reconciler);
  app.addHook('onClose', async () => reconciler.stop());
}, { name: 'reconciler', dependencies: ['redis', 'db'] });

declare module 'fastify' {
  interface FastifyInstance {
    reconciler: ReturnType<typeof startReconciler>;
  }
}
