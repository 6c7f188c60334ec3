import type { JobDefinition } from './job-types.js';
import { fineTuneJob } from './jobs/fine-tune.js';
import { selftestJob } from './jobs/selftest.js';

const definitions = new Map<string, JobDefinition<never>>();

export function registerJobType<P>(def: JobDefinition<P>): void {
  definitions.set(def.type, def as unknown as JobDefinition<never>);
}

export function jobDefinition(type: string): JobDefinition<unknown> | undefined {
  return definitions.get(type) as JobDefinition<unknown> | undefined;
}

export function jobTypes(): string[] {
  return [...definitions.keys()];
}

registerJobType(fineTuneJob);
registerJobType(selftestJob);
