import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from './auth.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../../http/problem.js';
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
    // bull-board answers its own errors (an unknown queue or job) with plain JSON: give them the service's problem shape.
    scope.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode < 400 || !String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
      let said = 'the queue dashboard could not answer this request';
      try {
        const parsed = JSON.parse(String(payload)) as { error?: unknown; message?: unknown };
        const text = parsed.error ?? parsed.message;
        if (typeof text === 'string' && text.length > 0) said = text;
      } catch {
        // not JSON after all: keep the generic detail
      }
      const code = reply.statusCode === 404 ? 'not_found' : reply.statusCode < 500 ? 'bad_request' : 'admin_unavailable';
      reply.header('content-type', PROBLEM_CONTENT_TYPE);
      // `error` stays for bull-board's page, which shows that field.
      return JSON.stringify(problemBody(reply.statusCode, code, `the queue dashboard: ${said}`, { error: said }, request.url.split('?')[0], request.id));
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: ADMIN_PREFIX });
  });
}, { name: 'admin', dependencies: ['redis', 'auth'] });
