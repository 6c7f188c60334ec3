import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { exitOnStartupError, prepareDatabase } from './boot.js';
import { ApiClient, ApiError } from './cli/client.js';
import { predictCommand } from './cli/predict.js';
import { trainCommand } from './cli/train.js';
import { loadConfig } from './config.js';

const USAGE = `usage: matmoe <command> [options]

commands:
  serve                      start the API and one training worker (npm start)
  api                        start the API only
  worker                     start one training worker only
  migrate                    create the database if missing, apply migrations
  predict --model M INPUT..  predict with model M; INPUT is a formula or a CIF, POSCAR or pymatgen-JSON file
  train FILE --name N --property P --unit U [--experts a,b] [--k K] [--epochs E] [--patience P] [--seed S]
                             [--loss mse|l1] [--gate-init equal|probe|probe-kinds] [--warmup EPOCHS]
                             upload a CSV/JSONL dataset, split it 70/15/15, fine-tune, and follow the progress
  bench chem|experts|paper|http [-- args]
                             run a benchmark

options for predict/train: --url (default $MATMOE_URL or http://127.0.0.1:8080), --key (default $MATMOE_API_KEY)
server configuration comes from the environment: PORT, HOST, DATABASE_URL, REDIS_URL, API_KEYS, LOG_LEVEL, TFJS_BACKEND (see README).`;

const BENCHES = ['chem', 'experts', 'paper', 'http'];

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, key: { type: 'string' }, model: { type: 'string', short: 'm' },
      name: { type: 'string' }, property: { type: 'string' }, unit: { type: 'string' }, experts: { type: 'string' },
      k: { type: 'string' }, epochs: { type: 'string' }, patience: { type: 'string' }, seed: { type: 'string' },
      loss: { type: 'string' }, 'gate-init': { type: 'string' }, warmup: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const num = (name: string): number | undefined => {
    const v = str(values[name]);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number`);
    return Number(v);
  };
  const client = (): ApiClient => new ApiClient(str(values.url) ?? process.env.MATMOE_URL ?? 'http://127.0.0.1:8080', str(values.key) ?? process.env.MATMOE_API_KEY);

  switch (command) {
    case 'serve':
      await (await import('./processes/supervisor.js')).runAll();
      return 0;
    case 'api':
      await (await import('./processes/api-process.js')).runApi();
      return 0;
    case 'worker':
      await (await import('./processes/worker-process.js')).runWorker();
      return 0;
    case 'migrate':
      try {
        await (await prepareDatabase(loadConfig())).end();
      } catch (err) {
        exitOnStartupError('migrate', err);
      }
      process.stdout.write('migrations applied\n');
      return 0;
    case 'predict': {
      const model = str(values.model);
      if (!model) throw new Error('--model is required, e.g. --model expt_bandgap (GET /v1/models lists them)');
      process.stdout.write(`${await predictCommand(client(), model, rest)}\n`);
      return 0;
    }
    case 'train': {
      const [file] = rest;
      const name = str(values.name), property = str(values.property), unit = str(values.unit);
      if (!file || !name || !property || unit === undefined) throw new Error('usage: matmoe train FILE --name N --property P --unit U');
      await trainCommand(client(), {
        file, name, property, unit, experts: str(values.experts)?.split(',').map((s) => s.trim()).filter(Boolean),
        k: num('k'), epochs: num('epochs'), patience: num('patience'), seed: num('seed'),
        loss: str(values.loss), gateInit: str(values['gate-init']), gateWarmup: num('warmup'),
      }, (s) => process.stdout.write(s));
      return 0;
    }
    case 'bench': {
      const [which, ...args] = rest;
      if (!which || !BENCHES.includes(which)) throw new Error(`usage: matmoe bench ${BENCHES.join('|')} [-- args]`);
      return spawnSync('npm', ['run', `bench:${which}`, '--', ...args], { stdio: 'inherit' }).status ?? 1;
    }
    default:
      process.stderr.write(`matmoe: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

try {
  const code = await main(process.argv.slice(2));
  if (code !== 0) process.exitCode = code;
} catch (err) {
  if (err instanceof ApiError) {
    process.stderr.write(`matmoe: ${err.message}${err.errors.length ? `\n${err.errors.map((e) => `  ${e.index !== undefined ? `input ${e.index}: ` : ''}${e.message}`).join('\n')}` : ''}\n`);
  } else {
    process.stderr.write(`matmoe: ${(err as Error).message}\n`);
  }
  process.exitCode = 1;
}
