import fp from 'fastify-plugin';
import { ExpertService } from '../../services/expert-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    experts: ExpertService;
  }
}

/** Loads the shipped experts once and makes sure Postgres holds the same files. */
export default fp(async (app) => {
  const experts = await ExpertService.load();
  const seeded = await experts.seed(app.pg);
  app.log.info(seeded, 'experts seeded');
  app.decorate('experts', experts);
}, { name: 'experts', dependencies: ['db', 'backend'] });
