import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { preHandlerAsyncHookHandler } from 'fastify';
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
    /** preHandler for write routes: requires `Authorization: Bearer <key>` with a key from API_KEYS. */
    requireApiKey: preHandlerAsyncHookHandler;
    /** Every route registered, for documentation checks. */
    routeTable: { method: string; url: string }[];
  }
}
