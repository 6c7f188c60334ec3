import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';

/**
 * Request limits per client with @fastify/rate-limit: anonymous clients per IP address (RATE_LIMIT_ANONYMOUS per
 * minute), clients with an API key per principal (RATE_LIMIT_KEYED, higher); 0 turns a limit off. It is an app plugin
 * because it needs the principal that the auth plugin's hook (registered before it) has read. A refusal is a 429
 * problem with Retry-After.
 */
export default fp(async (app) => {
  const { rateLimitAnonymous: anonymous, rateLimitKeyed: keyed } = app.config;
  if (anonymous === 0 && keyed === 0) return;
  const keyedOf = (request: FastifyRequest) => request.principal !== null;
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    keyGenerator: (request) => (keyedOf(request) ? `key:${request.principal}` : `ip:${request.ip}`),
    max: async (request) => (keyedOf(request) ? keyed : anonymous),
    allowList: (request) => (keyedOf(request) ? keyed === 0 : anonymous === 0) || request.url.startsWith('/health/') || request.url.startsWith('/metrics'),
    errorResponseBuilder: (request, context) => new AppError(429, 'rate_limited',
      `too many requests: at most ${context.max} per minute ${keyedOf(request) ? 'for this API key' : 'for clients without an API key (send one for a higher limit)'}; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
}, { name: 'rate-limit', dependencies: ['auth'] });
