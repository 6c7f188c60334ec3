import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { exitOnStartupError, prepareDatabase } from './boot.js';

const USAGE = `usage: matmoe <command>

commands:
  serve     start the API and one training worker (npm start)
  api       start the API only
  worker    start one training worker only
  migrate   create the database if missing and apply pending migrations

configuration comes from the environment: PORT, HOST, DATABASE_URL, REDIS_URL, API_KEYS, LOG_LEVEL, TFJS_BACKEND (see README).`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { help: { type: 'boolean', short: 'h' } } });
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    process.exitCode = command || values.help ? 0 : 2;
    return;
  }
  switch (command) {
    case 'serve':
      return (await import('./processes/all.js')).runAll();
    case 'api':
      return (await import('./processes/api.js')).runApi();
    case 'worker':
      return (await import('./processes/worker.js')).runWorker();
    case 'migrate': {
      try {
        const pool = await prepareDatabase(loadConfig());
        await pool.end();
        process.stdout.write('migrations applied\n');
      } catch (err) {
        exitOnStartupError('migrate', err);
      }
      return;
    }
    default:
      process.stderr.write(`matmoe: unknown command "${command}"\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

await main(process.argv.slice(2));
