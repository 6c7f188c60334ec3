import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';

/** 503 with Retry-After: the client should come back, nothing is wrong with its request. */
export class OverloadedError extends AppError {
  constructor(message: string) {
    super(503, 'overloaded', message);
  }
}

/**
 * Load shedding with @fastify/under-pressure: while the event loop lags more than MAX_EVENT_LOOP_DELAY_MS, new requests
 * get a 503 problem with Retry-After instead of queueing behind the lag. Liveness and metrics are always answered, so
 * an orchestrator does not restart a process that is merely busy.
 */
export default fp(async (app) => {
  const maxEventLoopDelay = app.config.maxEventLoopDelayMs;
  if (maxEventLoopDelay === 0) return;
  await app.register(underPressure, {
    maxEventLoopDelay,
    retryAfter: 2,
    exposeStatusRoute: false,
    pressureHandler: (request, reply) => {
      if (request.url.startsWith('/health/live') || request.url.startsWith('/metrics')) return;
      reply.header('retry-after', '2');
      throw new OverloadedError(`the server is overloaded (event loop delay above ${maxEventLoopDelay} ms); retry in a few seconds`);
    },
  });
}, { name: 'under-pressure', dependencies: ['config'] });
