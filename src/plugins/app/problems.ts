import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isPostgresUnavailable } from '../../db/pool.js';
import { AppError } from '../../errors.js';
import { PROBLEM_CONTENT_TYPE, problemBody, type Problem } from '../../http/problem.js';
import { isRedisUnavailable } from '../../queue/connection.js';

const DEPENDENCY_NAMES = { postgres: 'PostgreSQL', redis: 'Redis' } as const;

/**
 * The one place where errors become HTTP: an AppError carries its status and code; Fastify's own client errors (schema
 * validation, body parsing, limits) keep their 4xx status with a stable code; a dependency that stopped answering is a
 * 503 naming it; anything else is a 500 that is logged and never shown. Every answer is application/problem+json and
 * carries the request id that the logs use.
 */
export function toProblem(error: FastifyError | AppError | Error, request: FastifyRequest): { status: number; body: Problem } {
  const at = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}) =>
    ({ status, body: problemBody(status, code, detail, extra, request.url.split('?')[0], request.id) });
  if (error instanceof AppError) return at(error.status, error.code, error.message, { ...error.extra });
  const fe = error as FastifyError;
  if (fe.validation) {
    const errors = fe.validation.map((v) => ({ path: `${fe.validationContext ?? 'body'}${v.instancePath ?? ''}`, message: v.message ?? 'invalid value' }));
    const first = errors[0];
    return at(400, 'validation_failed', `the request ${first ? `${first.path} ${first.message}` : 'is invalid'}`, { errors });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return at(fe.statusCode, (fe.code ?? 'bad_request').replace(/^FST_ERR_/, '').toLowerCase(), fe.message);
  }
  const dependency = isPostgresUnavailable(error) ? 'postgres' : isRedisUnavailable(error) ? 'redis' : undefined;
  if (dependency) {
    request.log.warn({ dependency, err: error.message }, 'dependency unavailable');
    return at(503, 'dependency_unavailable', `${DEPENDENCY_NAMES[dependency]} is not answering; retry in a few seconds`, { dependency });
  }
  request.log.error({ err: error }, 'unhandled error');
  return at(500, 'internal_error', 'an unexpected error occurred; it has been logged');
}

export function sendProblem(reply: FastifyReply, status: number, body: Problem): FastifyReply {
  if (status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer');
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5');
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(body);
}

export default fp(async (app) => {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const { status, body } = toProblem(error, request);
    return sendProblem(reply, status, body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    return sendProblem(reply, 404, problemBody(404, 'not_found', `there is no route ${request.method} ${path}; see /docs for the API`, {}, path, request.id));
  });
}, { name: 'problems' });
