import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { BackendInfo } from '../ml/backend.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    pg: Pool;
    redis: Redis;
    trainingQueue: Queue;
    backend: BackendInfo;
    /** onRequest hook for write routes (runs before the body is read): requires `Authorization: Bearer <key>` with a key from API_KEYS. */
    requireApiKey: onRequestAsyncHookHandler;
    /** Every route registered, for documentation checks. */
    routeTable: { method: string; url: string }[];
  }
}
