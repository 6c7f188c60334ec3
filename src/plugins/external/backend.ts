import fp from 'fastify-plugin';
import { initBackend } from '../../ml/backend.js';

/** TensorFlow.js, initialised once per process with the configured backend. */
export default fp(async (app) => {
  app.decorate('backend', await initBackend(app.config.tfjsBackend));
}, { name: 'backend', dependencies: ['config'] });
