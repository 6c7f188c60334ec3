import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LiveResponse, ReadyResponse } from './schema.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/live', {
    schema: { tags: ['health'], summary: 'The process is up', response: { 200: LiveResponse } },
  }, async () => ({ status: 'ok' as const, uptimeSeconds: process.uptime() }));

  app.get('/ready', {
    schema: {
      tags: ['health'],
      summary: 'Postgres and Redis reachable, migrations applied, compute backend ready (503 names what fails)',
      response: { 200: ReadyResponse, 503: { ...ReadyResponse, examples: [READY_503_EXAMPLE] } },
    },
  }, async (_request, reply) => {
    const { ready, failing, components } = await app.health.readiness();
    reply.code(ready ? 200 : 503);
    return { status: ready ? ('ready' as const) : ('unavailable' as const), backend: app.backend.name, failing, components };
  });
};

const READY_503_EXAMPLE = {
  status: 'unavailable', backend: 'wasm', failing: ['redis'],
  components: { postgres: { ok: true }, redis: { ok: false, detail: 'no answer within 2000 ms' }, migrations: { ok: true }, backend: { ok: true, detail: 'wasm (SIMD)' } },
};

export default routes;
