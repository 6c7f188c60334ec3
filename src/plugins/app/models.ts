import fp from 'fastify-plugin';
import { ModelService } from '../../services/models.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelService;
  }
}

export default fp(async (app) => {
  app.decorate('models', new ModelService(app.pg));
}, { name: 'models', dependencies: ['db', 'backend'] });
