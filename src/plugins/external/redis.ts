import fp from 'fastify-plugin';
import { createRedis } from '../../queue/connection.js';
import { createTrainingQueue } from '../../queue/queues.js';

/** Redis connection and the BullMQ `training` queue the API enqueues into. */
export default fp(async (app) => {
  const redis = createRedis(app.config.redisUrl, {}, app.log);
  const queue = createTrainingQueue(redis, app.config.queuePrefix);
  queue.on('error', (err) => app.log.debug({ err: err.message }, 'queue error'));
  app.decorate('redis', redis);
  app.decorate('trainingQueue', queue);
  app.addHook('onClose', async () => {
    // With Redis down, closing the queue would wait for it forever: give it a moment, then drop the connection.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([queue.close().catch(() => {}), new Promise<void>((resolve) => { timer = setTimeout(resolve, 2000); })]);
    clearTimeout(timer);
    redis.disconnect();
  });
}, { name: 'redis', dependencies: ['config', 'db'] });
