import fp from 'fastify-plugin';
import { createRedis } from '../../queue/connection.js';
import { createTrainingQueue } from '../../queue/queues.js';

/** Redis connection and the BullMQ `training` queue the API enqueues into. */
export default fp(async (app) => {
  const redis = createRedis(app.config.redisUrl);
  redis.on('error', (err) => app.log.error({ err: err.message }, 'redis connection error'));
  const queue = createTrainingQueue(redis, app.config.queuePrefix);
  app.decorate('redis', redis);
  app.decorate('trainingQueue', queue);
  app.addHook('onClose', async () => {
    await queue.close();
    redis.disconnect();
  });
}, { name: 'redis', dependencies: ['config', 'db'] });
