import fp from 'fastify-plugin';
import { ModelService } from '../../services/model-service.js';
import { seedShippedModels } from '../../services/shipped-models.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelService;
  }
}

/** Shipped models are seeded at start (idempotent); models are loaded lazily on first prediction. */
export default fp(async (app) => {
  app.log.info(await seedShippedModels(app.pg), 'shipped models seeded');
  app.decorate('models', new ModelService(app.pg, (key, sha) => app.experts.baseWeights(key, sha)));
}, { name: 'models', dependencies: ['db', 'backend', 'experts'] });
