import { Redis, type RedisOptions } from 'ioredis';
import { UnreachableError, redactUrl } from '../db/pool.js';

/** BullMQ workers block on Redis commands, which requires maxRetriesPerRequest: null. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...opts });
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

