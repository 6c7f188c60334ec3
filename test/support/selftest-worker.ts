/** A training worker process that also runs the test-only `selftest` job type. */
import { runWorker } from '../../src/processes/worker-process.js';
import { registerJobType } from '../../src/queue/registry.js';
import { selftestJob } from './selftest-job.js';

registerJobType(selftestJob);
await runWorker();
