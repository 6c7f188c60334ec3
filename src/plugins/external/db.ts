import fp from 'fastify-plugin';
import { prepareInfrastructure } from '../../boot.js';

/** PostgreSQL pool (database created if missing, migrations applied under an advisory lock). */
export default fp(async (app) => {
  const pool = await prepareInfrastructure(app.config);
  app.decorate('pg', pool);
  app.addHook('onClose', async () => {
    await pool.end();
  });
}, { name: 'db', dependencies: ['config'] });
