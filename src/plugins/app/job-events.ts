import fp from 'fastify-plugin';
import { JobEvents } from '../../services/job-events.js';

declare module 'fastify' {
  interface FastifyInstance {
    jobEvents: JobEvents;
  }
}

export default fp(async (app) => {
  const events = new JobEvents(app.config.databaseUrl, (err) => app.log.warn({ err: err.message }, 'job events connection lost; reconnecting'));
  await events.start();
  app.decorate('jobEvents', events);
  app.addHook('onClose', async () => events.close());
}, { name: 'job-events', dependencies: ['db'] });
