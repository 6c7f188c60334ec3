import { spawnSync } from 'node:child_process';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { exitOnStartupError, prepareDatabase } from './boot.js';
import { ApiClient, ApiError } from './cli/client.js';
import { FINE_TUNE_FLAGS, fineTuneFlagHelp, fineTuneOptionsFromFlags } from './cli/fine-tune-flags.js';
import { predictCommand } from './cli/predict.js';
import { trainCommand } from './cli/train.js';
import { loadConfig } from './config.js';

const BENCHES = ['chem', 'experts', 'paper', 'http', 'inference', 'hostile', 'matbench', 'gap-textbook'];

const USAGE = `usage: matmoe <command> [options]

commands:
  serve                      start the API and one training worker (npm start)
  api                        start the API only
  worker                     start one training worker only
  migrate                    create the database if missing, apply migrations
  predict --model M INPUT..  predict with model M; INPUT is a formula or a CIF, POSCAR or pymatgen-JSON file
                             (a path that does not exist is an error unless it reads as a formula)
  train FILE --property P --unit U [fine-tune options]
                             upload a CSV/JSONL dataset, split it 70/15/15, fine-tune, and follow the progress
  bench ${BENCHES.join('|')} [-- args]
                             run a benchmark

fine-tune options (see POST /v1/jobs in /docs):
${fineTuneFlagHelp()}

options for predict/train: --url (default $MATMOE_URL or http://127.0.0.1:8080), --key (default $MATMOE_API_KEY)
server configuration comes from the environment: PORT, HOST, DATABASE_URL, REDIS_URL, API_KEYS, LOG_LEVEL, TFJS_BACKEND (see README).`;

const CLIENT_FLAGS = { url: { type: 'string' }, key: { type: 'string' } } as const;
const FLAGS: Record<string, ParseArgsConfig['options']> = {
  serve: {}, api: {}, worker: {}, migrate: {},
  predict: { ...CLIENT_FLAGS, model: { type: 'string', short: 'm' } },
  train: { ...CLIENT_FLAGS, property: { type: 'string' }, unit: { type: 'string' }, ...FINE_TUNE_FLAGS },
  bench: {},
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === 'bench') {
    const [which, ...args] = rest.filter((a) => a !== '--');
    if (!which || !BENCHES.includes(which)) throw new Error(`usage: matmoe bench ${BENCHES.join('|')} [-- args]`);
    return spawnSync('npm', ['run', `bench:${which}`, '--', ...args], { stdio: 'inherit' }).status ?? 1;
  }
  const options = FLAGS[command];
  if (!options) {
    process.stderr.write(`matmoe: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }
  // strict: a mistyped flag is an error, never silently ignored.
  const parsed = parseArgs({ args: rest, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const { positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const client = (): ApiClient => new ApiClient(str(values.url) ?? process.env.MATMOE_URL ?? 'http://127.0.0.1:8080', str(values.key) ?? process.env.MATMOE_API_KEY);
  const noPositionals = (): void => {
    if (positionals.length > 0) throw new Error(`"${command}" takes no arguments (got ${positionals.join(' ')})`);
  };

  switch (command) {
    case 'serve':
      noPositionals();
      await (await import('./processes/supervisor.js')).runAll();
      return 0;
    case 'api':
      noPositionals();
      await (await import('./processes/api-process.js')).runApi();
      return 0;
    case 'worker':
      noPositionals();
      await (await import('./processes/worker-process.js')).runWorker();
      return 0;
    case 'migrate':
      noPositionals();
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
      process.stdout.write(`${await predictCommand(client(), model, positionals)}\n`);
      return 0;
    }
    case 'train': {
      const [file, ...extra] = positionals;
      const property = str(values.property), unit = str(values.unit);
      if (!file || extra.length > 0 || !property || unit === undefined) throw new Error('usage: matmoe train FILE --property P --unit U [fine-tune options]');
      await trainCommand(client(), { file, property, unit, fineTune: fineTuneOptionsFromFlags(values) }, (s) => process.stdout.write(s));
      return 0;
    }
    default:
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
