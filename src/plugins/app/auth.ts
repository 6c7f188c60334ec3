import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import { HttpProblem } from '../../http/problem.js';

function keyMatches(given: string, keys: readonly Buffer[]): boolean {
  const g = Buffer.from(given);
  let ok = false;
  for (const k of keys) if (k.length === g.length && timingSafeEqual(k, g)) ok = true;
  return ok;
}

/** Bearer-key check for write routes; reads stay open. */
export default fp(async (app) => {
  const keys = app.config.apiKeys.map((k) => Buffer.from(k));
  if (keys.length === 0) app.log.warn('API_KEYS is empty: every write route will answer 401');
  app.decorate('requireApiKey', async (request) => {
    const header = request.headers.authorization;
    if (!header) throw new HttpProblem(401, 'unauthorized', 'this route changes data and needs an API key: send "Authorization: Bearer <key>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new HttpProblem(401, 'unauthorized', 'the Authorization header must be "Bearer <key>"');
    if (!keyMatches(m[1], keys)) throw new HttpProblem(401, 'unauthorized', 'the API key is not valid for this server');
  });
}, { name: 'auth', dependencies: ['config'] });
