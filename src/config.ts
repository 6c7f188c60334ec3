import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  host: Type.String({ minLength: 1 }),
  databaseUrl: Type.String({ pattern: '^postgres(ql)?://' }),
  redisUrl: Type.String({ pattern: '^rediss?://' }),
  apiKeys: Type.Array(Type.String({ minLength: 8 })),
  logLevel: Type.Enum(LOG_LEVELS),
  tfjsBackend: Type.Enum(BACKENDS),
  queuePrefix: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$' }),
  shutdownTimeoutMs: Type.Integer({ minimum: 100 }),
  workerConcurrency: Type.Integer({ minimum: 1, maximum: 64 }),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Reads the service configuration from environment variables; a wrong value is a ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
    return Number(raw);
  };
  const config: Config = {
    port: int('PORT', 8080),
    host: env.HOST || '0.0.0.0',
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/matmoe',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    apiKeys: (env.API_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k !== ''),
    logLevel: (env.LOG_LEVEL || 'info') as Config['logLevel'],
    tfjsBackend: (env.TFJS_BACKEND || 'auto') as Config['tfjsBackend'],
    queuePrefix: env.QUEUE_PREFIX || 'matmoe',
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000),
    workerConcurrency: int('WORKER_CONCURRENCY', 1),
    ...overrides,
  };
  const errors = [...Value.Errors(ConfigSchema, config)];
  if (errors.length > 0) {
    const names: Record<string, string> = {
      port: 'PORT', host: 'HOST', databaseUrl: 'DATABASE_URL', redisUrl: 'REDIS_URL', apiKeys: 'API_KEYS',
      logLevel: 'LOG_LEVEL', tfjsBackend: 'TFJS_BACKEND', queuePrefix: 'QUEUE_PREFIX',
      shutdownTimeoutMs: 'SHUTDOWN_TIMEOUT_MS', workerConcurrency: 'WORKER_CONCURRENCY',
    };
    const first = errors[0] as { instancePath?: string; message?: string };
    const field = (first.instancePath ?? '').split('/')[1] ?? '';
    const name = names[field] ?? field;
    if (field === 'tfjsBackend') throw new ConfigError(`invalid ${name} "${config.tfjsBackend}": use one of ${BACKENDS.join(', ')}`);
    if (field === 'logLevel') throw new ConfigError(`invalid ${name} "${config.logLevel}": use one of ${LOG_LEVELS.join(', ')}`);
    if (field === 'apiKeys') throw new ConfigError(`invalid ${name}: every key must be at least 8 characters`);
    throw new ConfigError(`invalid ${name}: ${first.message ?? 'bad value'}`);
  }
  return config;
}
