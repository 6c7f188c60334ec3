import { runAll } from './processes/supervisor.js';

await runAll();
