import fp from 'fastify-plugin';
import { startIdleCollector } from '../../util/idle-gc.js';

/** Returns a burst's garbage to the OS once requests stop (src/util/idle-gc.ts); inference threads run their own. */
export default fp(async (app) => {
  const collector = startIdleCollector({ onCollect: (freed) => app.log.debug({ freedMiB: Math.round(freed / 2 ** 20) }, 'idle: collected garbage') });
  app.addHook('onRequest', async (_request, reply) => {
    collector.begin();
    // 'close' comes once per response, sent or cut off by the client (onResponse misses the latter).
    reply.raw.once('close', collector.end);
  });
  app.addHook('onClose', async () => collector.stop());
}, { name: 'idle-gc' });
