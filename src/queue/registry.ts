import type { TSchema } from 'typebox';
import type { JobDefinition } from './job-types.js';
import { batchPredictJob } from './jobs/batch-predict.js';
import { fineTuneJob } from './jobs/fine-tune.js';

const definitions = new Map<string, JobDefinition>();

/** Job types a worker runs. The service ships `fine-tune` and `batch-predict`; tests register their own (e.g. a timed self-test) in-process. */
export function registerJobType<S extends TSchema>(def: JobDefinition<S>): void {
  // Stored by type name; the runner checks every payload against def.payload before run() sees it.
  definitions.set(def.type, def as unknown as JobDefinition);
}

export function jobDefinition(type: string): JobDefinition | undefined {
  return definitions.get(type);
}

registerJobType(fineTuneJob);
registerJobType(batchPredictJob);
