import { runAll } from './processes/all.js';

await runAll();
