import { Redis, type RedisOptions } from 'ioredis';
import { UnreachableError, redactUrl } from '../db/pool.js';

interface ReconnectLog {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
  debug(o: object, msg: string): void;
}

/**
 * A Redis connection for BullMQ (whose workers block on Redis commands, which requires maxRetriesPerRequest: null).
 * While Redis is unreachable it reconnects with exponential backoff (0.2 s doubling to 10 s), logging one JSON line per
 * attempt with its delay, and one when it is back; the errors of the attempts themselves are debug-level.
 */
export function createRedis(url: string, opts: RedisOptions = {}, log?: ReconnectLog): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => {
      const delayMs = Math.min(10_000, 100 * 2 ** Math.min(attempt, 10));
      log?.warn({ attempt, delayMs }, 'redis unreachable; reconnecting');
      return delayMs;
    },
    ...opts,
  });
  let down = false;
  redis.on('error', (err) => {
    down = true;
    log?.debug({ err: err.message }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (down) log?.info({}, 'redis reachable again');
    down = false;
  });
  return redis;
}

/** One PING with a deadline and no reconnect loop: start-up must fail fast and clearly when Redis is down. */
export async function checkRedis(url: string, timeoutMs = 3000): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new UnreachableError('redis', `cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message || String(err)}`);
  } finally {
    probe.disconnect();
  }
}

/** ioredis's errors for a connection that is down (as opposed to a command Redis refused). */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string } | null;
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue options is false|Redis is not answering/i.test(e.message ?? '');
}

