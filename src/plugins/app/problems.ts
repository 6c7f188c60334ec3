import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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

/**
 * Fastify's `frameworkErrors`: what goes wrong before a route is found (a broken percent-encoding, FST_ERR_BAD_URL; a
 * path parameter over maxParamLength, FST_ERR_MAX_PARAM_LENGTH) is answered like any other error.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toProblem(error, request);
  void sendProblem(reply, status, body);
}

/** Node's parser errors with their own status; every other one (HPE_INVALID_METHOD, HPE_INVALID_CHUNK_SIZE, …) is a 400. */
const CLIENT_ERRORS: Readonly<Record<string, { status: number; code: string; detail: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', detail: 'the request line and headers are too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'chunk_extensions_too_large', detail: 'the chunk extensions of the body are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', detail: 'the request did not arrive completely in time' },
};

/** A complete HTTP/1.1 response with a problem body, for a socket that no Fastify reply owns; the connection closes. */
function rawProblem(status: number, code: string, detail: string, requestId: string, extra: Record<string, unknown> = {}, headers = ''): string {
  const body = JSON.stringify(problemBody(status, code, detail, extra, undefined, requestId));
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `${headers}connection: close\r\n\r\n${body}`;
}

type ClientError = Error & { code?: string; reason?: string };

/**
 * The Node server's `clientError` (Fastify's `clientErrorHandler`): bytes that are not an HTTP/1.1 request (a malformed
 * request line or header, a bad chunk, conflicting lengths, trailing bytes after a body shorter than its
 * Content-Length), headers over the size limit, or a request that never finished arriving. No request exists, so
 * the answer is written to the socket: a problem body, then the connection is closed, because the parser cannot
 * find the next request's start.
 */
export function clientErrorHandler(this: FastifyInstance, err: ClientError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[err.code ?? ''];
  const { status, code, detail } = known ?? {
    status: 400, code: 'malformed_request',
    detail: `the request is not valid HTTP/1.1: ${err.reason ?? err.message}${err.code ? ` (${err.code})` : ''}`,
  };
  const requestId = randomUUID();
  this.log.info({ requestId, err: { code: err.code, message: err.message } }, 'malformed request refused');
  const answer = (): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(rawProblem(status, code, detail, requestId, err.code && !known ? { parserError: err.code } : {}), () => socket.destroy());
  };
  // The response on this connection now: once it has started, no other can follow; when its request arrived whole
  // (the bad bytes are a pipelined next request), it is answered first and the refusal follows it.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight?.headersSent) socket.destroy();
  else if (inFlight && !inFlight.writableFinished && inFlight.req.complete) inFlight.once('close', answer);
  else answer();
}

/**
 * The Node server's `checkExpectation`: a request whose `Expect` is not `100-continue` cannot be met (RFC 9110
 * §10.1.1); Node would answer an empty 417.
 */
export function expectationFailed(this: FastifyInstance, req: IncomingMessage, res: ServerResponse): void {
  const requestId = randomUUID();
  const path = (req.url ?? '/').split('?')[0];
  const body = JSON.stringify(problemBody(417, 'expectation_failed', `the expectation "${req.headers.expect ?? ''}" cannot be met; only "100-continue" is understood`, {}, path, requestId));
  this.log.info({ requestId, expect: req.headers.expect }, 'expectation refused');
  res.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

/** The Node server's `connect`: this is not a proxy, so CONNECT is refused (Node would close the socket without a word). */
export function connectRefused(this: FastifyInstance, req: IncomingMessage, socket: Duplex): void {
  const requestId = randomUUID();
  this.log.info({ requestId, target: req.url }, 'CONNECT refused');
  socket.end(rawProblem(405, 'method_not_allowed', 'CONNECT is not supported: this server is not a proxy', requestId, {}, 'allow: GET, HEAD, POST, PATCH, DELETE\r\n'), () => socket.destroy());
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
