import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pendingMigrations } from '../../db/migrate.js';
import { LiveResponse, ReadyResponse } from './schema.js';

async function probe(fn: () => Promise<string | undefined>, timeoutMs = 2000): Promise<{ ok: boolean; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return detail ? { ok: true, detail } : { ok: true };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/live', {
    schema: { tags: ['health'], summary: 'The process is up', response: { 200: LiveResponse } },
  }, async () => ({ status: 'ok' as const, uptimeSeconds: process.uptime() }));

  app.get('/ready', {
    schema: {
      tags: ['health'],
      summary: 'Postgres and Redis reachable, migrations applied, compute backend ready (503 names what fails)',
      response: { 200: ReadyResponse, 503: ReadyResponse },
    },
  }, async (_request, reply) => {
    const [postgres, redis, migrations] = await Promise.all([
      probe(async () => { await app.pg.query('SELECT 1'); return undefined; }),
      probe(async () => { await app.redis.ping(); return undefined; }),
      probe(async () => {
        const pending = await pendingMigrations(app.pg);
        if (pending.length > 0) throw new Error(`pending: ${pending.join(', ')}`);
        return undefined;
      }),
    ]);
    const backend = { ok: true, detail: app.backend.detail };
    const components = { postgres, redis, migrations, backend };
    const failing = Object.entries(components).filter(([, c]) => !c.ok).map(([name]) => name);
    reply.code(failing.length === 0 ? 200 : 503);
    return { status: failing.length === 0 ? ('ready' as const) : ('unavailable' as const), backend: app.backend.name, failing, components };
  });
};

export default routes;
