import { runWorker } from './processes/worker-process.js';

await runWorker();
