import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import { sendProblem, toProblem } from './problems.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The principal of a valid API key, or null for an anonymous request. */
    principal: string | null;
  }
  interface FastifyInstance {
    /** onRequest hook for routes that need a principal (writes, jobs): 401 for anonymous requests, before the body is read. */
    requirePrincipal: onRequestAsyncHookHandler;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** The key of an `Authorization: Bearer <key>` header, or the password of HTTP Basic (so a browser can open /admin). */
function presentedKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  throw new UnauthorizedError('the Authorization header must be "Bearer <key>"');
}

/**
 * API keys carry a principal (API_KEYS=alice:key1,bob:key2). Every request with an Authorization header must present a
 * valid key; without one it is anonymous and sees public data only. Keys are compared as sha256 digests with
 * timingSafeEqual against every configured key, so the time taken does not depend on the key's length or on which
 * key matched.
 */
export default fp(async (app) => {
  const keys = app.config.apiKeys.map((k) => ({ principal: k.principal, digest: digest(k.key) }));
  if (keys.length === 0) app.log.warn('API_KEYS is empty: every route that needs a key will answer 401');

  const principalOf = (key: string): string | null => {
    const given = digest(key);
    let found: string | null = null;
    for (const k of keys) if (timingSafeEqual(k.digest, given) && found === null) found = k.principal;
    return found;
  };

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const key = presentedKey(request.headers.authorization);
      if (key === undefined) return;
      const principal = principalOf(key);
      if (principal === null) throw new UnauthorizedError('the API key is not valid for this server');
      request.principal = principal;
    } catch (err) {
      // Answered here, not thrown: a route with its own error handler (bull-board's answers everything as a 500)
      // must not turn a refused key into a server error.
      const { status, body } = toProblem(err as Error, request);
      return sendProblem(reply, status, body);
    }
  });
  app.decorate('requirePrincipal', async (request: FastifyRequest) => {
    if (request.principal === null) throw new UnauthorizedError('this route needs an API key: send "Authorization: Bearer <key>"');
  });
}, { name: 'auth', dependencies: ['config'] });
