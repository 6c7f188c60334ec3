import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from './auth.js';
import { sendProblem, toProblem } from './problems.js';

export const ADMIN_PREFIX = '/admin/queues';

/**
 * bull-board, read-only, at /admin/queues, for any principal with an API key: as a Bearer header, or as the password
 * of HTTP Basic auth so that a browser can open it (any user name); the 401 asks the browser for Basic credentials.
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
    // bull-board installs its own error handler, so the 401 is answered here rather than thrown.
    scope.addHook('onRequest', async (request, reply) => {
      if (request.principal !== null) return;
      reply.header('www-authenticate', 'Basic realm="MatMoE admin", charset="UTF-8"');
      const { status, body } = toProblem(new UnauthorizedError('the queue dashboard needs an API key: send "Authorization: Bearer <key>" or use it as the password of HTTP Basic auth'), request);
      return sendProblem(reply, status, body);
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: ADMIN_PREFIX });
  });
}, { name: 'admin', dependencies: ['redis', 'auth'] });
