/**
 * The service configuration, read from environment variables with env-schema. Every variable is written once, in
 * SETTINGS: its name, its schema (type, bounds, default) and what it means; the `Config` type and the validation both
 * derive from that table. A wrong value is a ConfigError naming the variable.
 */
import envSchema from 'env-schema';
import { Type, type Static, type TSchema } from 'typebox';

export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const SETTINGS = {
  port: { env: 'PORT', schema: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'HTTP port' }) },
  host: { env: 'HOST', schema: Type.String({ minLength: 1, default: '0.0.0.0', description: 'interface to listen on' }) },
  databaseUrl: {
    env: 'DATABASE_URL',
    schema: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/matmoe', description: 'PostgreSQL; the database is created if it does not exist' }),
  },
  redisUrl: { env: 'REDIS_URL', schema: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379', description: 'Redis for the BullMQ queue' }) },
  apiKeys: {
    env: 'API_KEYS',
    schema: Type.String({
      default: '',
      description: 'comma-separated API keys, each "principal:key" (e.g. "alice:k1,bob:k2") or a bare key (principal "default"); keys ≥ 8 characters; empty = every write is refused',
    }),
  },
  logLevel: { env: 'LOG_LEVEL', schema: Type.Enum(LOG_LEVELS, { default: 'info', description: LOG_LEVELS.join(', ') }) },
  tfjsBackend: {
    env: 'TFJS_BACKEND',
    schema: Type.Enum(BACKENDS, { default: 'auto', description: 'auto (tensorflow when @tensorflow/tfjs-node(-gpu) loads, else wasm), wasm, cpu, tensorflow' }),
  },
  queuePrefix: { env: 'QUEUE_PREFIX', schema: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$', default: 'matmoe', description: 'Redis key prefix of the queue' }) },
  shutdownTimeoutMs: { env: 'SHUTDOWN_TIMEOUT_MS', schema: Type.Integer({ minimum: 100, default: 10_000, description: 'longest graceful shutdown (ms)' }) },
  workerConcurrency: { env: 'WORKER_CONCURRENCY', schema: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'jobs one worker process runs at once' }) },
  trainingProcesses: { env: 'TRAINING_PROCESSES', schema: Type.Integer({ minimum: 0, maximum: 64, default: 0, description: 'child processes a fine-tune job trains its runs in, in parallel (0 = one per core)' }) },
  checkpointSeconds: { env: 'CHECKPOINT_SECONDS', schema: Type.Number({ minimum: 0.1, maximum: 3600, default: 60, description: 'how often a training run saves its state to Postgres (s); a job retried after a crash resumes from there' }) },
  inferenceThreads: { env: 'INFERENCE_THREADS', schema: Type.Integer({ minimum: 0, maximum: 256, default: 0, description: 'inference threads of the API (0 = one per core)' }) },
  batchMaxInputs: { env: 'BATCH_MAX_INPUTS', schema: Type.Integer({ minimum: 1, maximum: 100_000, default: 256, description: 'inputs gathered into one inference batch at most' }) },
  batchMaxWaitMs: { env: 'BATCH_MAX_WAIT_MS', schema: Type.Number({ minimum: 0, maximum: 2, default: 1, description: 'how long a prediction request may wait for others to share its batch (ms, at most 2)' }) },
  rateLimitAnonymous: { env: 'RATE_LIMIT_ANONYMOUS', schema: Type.Integer({ minimum: 0, default: 600, description: 'requests per minute per IP address without an API key (0 = no limit)' }) },
  rateLimitKeyed: { env: 'RATE_LIMIT_KEYED', schema: Type.Integer({ minimum: 0, default: 6000, description: 'requests per minute per API key (0 = no limit)' }) },
  maxEventLoopDelayMs: { env: 'MAX_EVENT_LOOP_DELAY_MS', schema: Type.Integer({ minimum: 0, default: 500, description: 'event-loop delay above which requests are shed with 503 and Retry-After (0 = never)' }) },
  maxInferenceBacklog: { env: 'MAX_INFERENCE_BACKLOG', schema: Type.Integer({ minimum: 0, default: 20_000, description: 'inference work waiting (inputs and batches) above which predictions are shed with 503 and Retry-After (0 = never)' }) },
  predictMaxSites: {
    env: 'PREDICT_MAX_SITES',
    schema: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 20_000, description: 'inputs × sites one prediction request may ask for (a formula counts one); larger screens go through batch-prediction jobs' }),
  },
} as const satisfies Record<string, { env: string; schema: TSchema }>;

type Settings = typeof SETTINGS;
type RawConfig = { -readonly [K in keyof Settings]: Static<Settings[K]['schema']> };

/** One API key and the principal it authenticates. */
export interface ApiKey {
  principal: string;
  key: string;
}

export type Config = Omit<RawConfig, 'apiKeys'> & { apiKeys: ApiKey[] };

/** The variables, for documentation: name, default and meaning. */
export const CONFIG_VARIABLES = Object.values(SETTINGS).map((s) => ({ name: s.env, default: (s.schema as { default?: unknown }).default, description: (s.schema as { description?: string }).description ?? '' }));

export class ConfigError extends Error {}

const PRINCIPAL = /^[A-Za-z0-9_.-]{1,64}$/;

/** "alice:key1,bob:key2,bare-key": a bare key authenticates the principal "default". */
export function parseApiKeys(raw: string): ApiKey[] {
  return raw.split(',').map((k) => k.trim()).filter((k) => k !== '').map((entry) => {
    const colon = entry.indexOf(':');
    const principal = colon > 0 ? entry.slice(0, colon) : 'default';
    const key = colon > 0 ? entry.slice(colon + 1) : entry;
    if (!PRINCIPAL.test(principal)) throw new ConfigError(`invalid API_KEYS: principal "${principal}" must be 1 to 64 letters, digits, "_", "." or "-"`);
    if (key.length < 8) throw new ConfigError('invalid API_KEYS: every key must be at least 8 characters');
    return { principal, key };
  });
}

/** Reads the configuration from `env` (process.env by default); `overrides` replace single settings (tests). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const entries = Object.entries(SETTINGS) as [keyof Settings, Settings[keyof Settings]][];
  const schema = Type.Object(Object.fromEntries(entries.map(([, s]) => [s.env, s.schema])));
  // An empty variable means "not set", as in a shell `PORT= npm start`.
  const data = Object.fromEntries(entries.map(([, s]) => [s.env, env[s.env]]).filter(([, v]) => v !== undefined && v !== ''));
  let parsed: Record<string, unknown>;
  try {
    parsed = envSchema({ schema: structuredClone(schema) as object, data, env: false });
  } catch (err) {
    const first = (err as { errors?: { instancePath?: string; message?: string; params?: { allowedValues?: unknown[] } }[] }).errors?.[0];
    const name = (first?.instancePath ?? '').replace(/^\//, '') || 'configuration';
    const value = data[name];
    const allowed = first?.params?.allowedValues;
    const why = allowed ? `use one of ${allowed.join(', ')}` : first?.message ?? (err as Error).message;
    throw new ConfigError(`invalid ${name}${value !== undefined ? ` "${String(value)}"` : ''}: ${why}`);
  }
  const raw = Object.fromEntries(entries.map(([field, s]) => [field, parsed[s.env]])) as RawConfig;
  const { apiKeys: rawKeys, ...rest } = raw;
  return { ...rest, apiKeys: parseApiKeys(rawKeys), ...overrides };
}
