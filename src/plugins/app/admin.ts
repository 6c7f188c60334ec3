import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from '../../http/problem.js';

export const ADMIN_PREFIX = '/admin/queues';

/**
 * bull-board, read-only, at /admin/queues. It needs an API key like every write route: as a Bearer header, or as the
 * password of HTTP Basic auth so that a browser can open it (any user name).
 */
export default fp(async (app) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_PREFIX);
  createBullBoard({
    queues: [new BullMQAdapter(app.trainingQueue, { readOnlyMode: true, allowRetries: false })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'MatMoE queues' } },
  });

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const header = request.headers.authorization ?? '';
      const basic = /^Basic\s+(\S+)$/i.exec(header);
      if (basic) {
        const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
        request.headers.authorization = `Bearer ${decoded.slice(decoded.indexOf(':') + 1)}`;
      }
      try {
        await app.requireApiKey.call(app, request, reply);
      } catch (err) {
        if (err instanceof HttpProblem && err.statusCode === 401) reply.header('www-authenticate', 'Basic realm="MatMoE admin", charset="UTF-8"');
        throw err;
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: ADMIN_PREFIX });
  });
}, { name: 'admin', dependencies: ['redis', 'auth'] });
