/** Readiness of the process's dependencies: Postgres, Redis, the schema and the compute backend. */
import type { Redis } from 'ioredis';
import { pendingMigrations } from '../db/migrate.js';
import type { Pool } from '../db/pool.js';
import type { BackendInfo } from '../ml/backend.js';

export interface Component {
  ok: boolean;
  detail?: string;
}

async function probe(fn: () => Promise<string | undefined>, timeoutMs = 2000): Promise<Component> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return detail ? { ok: true, detail } : { ok: true };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export class HealthService {
  constructor(private readonly pool: Pool, private readonly redis: Redis, private readonly backend: BackendInfo) {}

  async readiness(): Promise<{ ready: boolean; failing: string[]; components: Record<'postgres' | 'redis' | 'migrations' | 'backend', Component> }> {
    const [postgres, redis, migrations] = await Promise.all([
      probe(async () => { await this.pool.query('SELECT 1'); return undefined; }),
      probe(async () => { await this.redis.ping(); return undefined; }),
      probe(async () => {
        const pending = await pendingMigrations(this.pool);
        if (pending.length > 0) throw new Error(`pending: ${pending.join(', ')}`);
        return undefined;
      }),
    ]);
    const components = { postgres, redis, migrations, backend: { ok: true, detail: this.backend.detail } };
    const failing = Object.entries(components).filter(([, c]) => !c.ok).map(([name]) => name);
    return { ready: failing.length === 0, failing, components };
  }
}
