import { ConfigError } from './config.js';
import { migrate } from './db/migrate.js';
import { createPool, ensureDatabase, UnreachableError, type Pool } from './db/pool.js';
import { checkRedis } from './queue/connection.js';

/** Start-up common to the API and the worker: database created if missing, Redis reachable, migrations applied. */
export async function prepareInfrastructure(config: { databaseUrl: string; redisUrl: string }): Promise<Pool> {
  await ensureDatabase(config.databaseUrl);
  await checkRedis(config.redisUrl);
  return prepareDatabase(config);
}

/** Database created if missing and migrated (what `matmoe migrate` does; no Redis needed). */
export async function prepareDatabase(config: { databaseUrl: string }): Promise<Pool> {
  await ensureDatabase(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

/** Known start-up failures print one line and exit 1; anything else keeps its stack for debugging. */
export function exitOnStartupError(what: string, err: unknown): never {
  if (err instanceof UnreachableError || err instanceof ConfigError) {
    process.stderr.write(`matmoe ${what}: ${err.message}\n`);
  } else {
    process.stderr.write(`matmoe ${what}: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exit(1);
}
