import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody } from '../../http/problem.js';

/** Every error leaves as application/problem+json with a stable code; internals never leak to the client. */
export default fp(async (app) => {
  app.setErrorHandler((error: FastifyError | HttpProblem | AppError, request, reply) => {
    let status: number;
    let body;
    if (error instanceof HttpProblem) {
      status = error.statusCode;
      body = problemBody(status, error.code, error.message, error.extra, request.url);
    } else if (error instanceof AppError) {
      status = error.status;
      body = problemBody(status, error.code, error.message, { ...error.extra }, request.url);
    } else if ('validation' in error && error.validation) {
      status = 400;
      const errors = error.validation.map((v) => ({
        path: `${error.validationContext ?? 'body'}${v.instancePath ?? ''}`,
        message: v.message ?? 'invalid value',
      }));
      const first = errors[0];
      body = problemBody(status, 'validation_failed', `the request ${first ? `${first.path} ${first.message}` : 'is invalid'}`, { errors }, request.url);
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      const code = (error.code ?? 'bad_request').replace(/^FST_ERR_/, '').toLowerCase();
      body = problemBody(status, code, error.message, {}, request.url);
    } else {
      status = error.statusCode === 503 ? 503 : 500;
      request.log.error({ err: error }, 'unhandled error');
      body = problemBody(status, status === 503 ? 'unavailable' : 'internal_error', status === 503 ? error.message : 'an unexpected error occurred; it has been logged', {}, request.url);
    }
    if (status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(problemBody(404, 'not_found', `there is no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`, {}, request.url));
  });
}, { name: 'problems' });
