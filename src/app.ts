import autoload from '@fastify/autoload';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from './config.js';
import backend from './plugins/external/backend.js';
import db from './plugins/external/db.js';
import redis from './plugins/external/redis.js';
import swagger from './plugins/external/swagger.js';
import underPressure from './plugins/external/under-pressure.js';
import idleGc from './plugins/external/idle-gc.js';
import { clientErrorHandler, connectRefused, expectationFailed, frameworkErrors } from './plugins/app/problems.js';
import { installValidators } from './plugins/external/validation.js';

const HERE = new URL('.', import.meta.url).pathname;

export interface BuildOptions {
  /** Pino logger options; `false` silences logging (tests). */
  logger?: boolean | Record<string, unknown>;
}

/**
 * Server timeouts, so that a slow or stalled client cannot hold a connection forever: the whole request (a 50 MB upload
 * included) must arrive within REQUEST_TIMEOUT_MS, headers within HEADERS_TIMEOUT_MS, an idle socket closes after
 * CONNECTION_TIMEOUT_MS (job event streams send a heartbeat every 15 s), an idle keep-alive connection after
 * KEEP_ALIVE_TIMEOUT_MS.
 */
const REQUEST_TIMEOUT_MS = 120_000;
const HEADERS_TIMEOUT_MS = 20_000;
const CONNECTION_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Builds the HTTP application: external plugins (config, db, redis, swagger, compute backend), then the domain
 * plugins in plugins/app, then every route under routes/ (one folder per resource).
 */
export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  // @fastify/autoload recognises tsx only when preloaded with --require; tell it we run TypeScript sources.
  if (import.meta.url.endsWith('.ts')) process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1';

  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    return503OnClosing: true,
    // Routes that take large bodies (dataset uploads) raise their own limit.
    bodyLimit: 1024 * 1024,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // A client's own X-Request-Id is kept when it is a plain token (so it can be found in our logs); else one is made.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Errors raised before a route or a request exists are problem+json too (plugins/app/problems.ts).
    frameworkErrors,
    clientErrorHandler,
    // A missing Host is refused with a problem body by plugins/app/protocol.ts instead of Node's empty 400.
    http: { requireHostHeader: false },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.server.on('checkExpectation', expectationFailed.bind(app));
  app.server.on('connect', connectRefused.bind(app));
  installValidators(app);

  const routeTable: { method: string; url: string }[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routeTable.push({ method, url: route.url });
  });
  await app.register(fp(async (a) => { a.decorate('config', config); }, { name: 'config' }));
  await app.register(db);
  await app.register(redis);
  await app.register(backend);
  await app.register(swagger);
  await app.register(underPressure);
  await app.register(idleGc);
  await app.register(autoload, { dir: join(HERE, 'plugins/app'), forceESM: true, encapsulate: false });
  await app.register(autoload, { dir: join(HERE, 'routes'), forceESM: true, autoHooks: false, dirNameRoutePrefix: true, ignorePattern: /(^|\/)schema\.(t|j)s$/ });
  return app as unknown as FastifyInstance;
}
