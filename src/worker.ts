import { runWorker } from './processes/worker.js';

await runWorker();
