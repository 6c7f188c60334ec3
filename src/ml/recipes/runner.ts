/**
 * Where candidate and member trainings run. A runner takes training jobs on registered datasets and returns the
 * trained member with its raw predictions on the validation rows. `inProcessRunner` trains one job at a time in this
 * process; `childProcessRunner` (child-runner.ts) keeps one child process per core, because tfjs's wasm backend runs
 * single-threaded under Node and a machine's other cores would otherwise sit idle.
 */
import type { ExpertInput, ExpertWeights } from '../experts/expert-kind.js';
import type { MixtureConfig } from '../mixture/config.js';
import { predictMixture, type MixtureModel } from '../mixture/model.js';
import { trainMixture, type EpochProgress, type TrainCheckpoint } from '../mixture/trainer.js';

export interface RunnerDataset {
  id: string;
  inputs: readonly ExpertInput[];
  /** Physical targets; rows a job's split does not name are never read (callers pass NaN there). */
  targets: ArrayLike<number>;
  /** Every expert a job on this dataset may name. */
  experts: readonly ExpertWeights[];
}

export interface TrainJob {
  dataset: string;
  config: Partial<MixtureConfig>;
  split: { train: readonly number[]; val: readonly number[] };
  /** Lower runs first (the zoo finishes one task before starting the next); default 0. */
  priority?: number;
  onEpoch?(p: EpochProgress): void;
  signal?: AbortSignal;
  /** As trainMixture's: `save` runs in this process whichever process trains. */
  checkpoint?: TrainCheckpoint;
  resume?: Uint8Array;
  onResume?(at: { epoch: number }): void;
}

export interface TrainJobResult {
  model: MixtureModel;
  trainMae: number;
  valMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  /** Raw outputs (`predictMixture`) on the split's validation rows, in their order. */
  valRaw: Float32Array;
}

export interface TrainRunner {
  readonly parallel: number;
  addDataset(d: RunnerDataset): void;
  dropDataset(id: string): void;
  run(job: TrainJob): Promise<TrainJobResult>;
  close(): Promise<void>;
}

/** The one body every runner executes. */
export async function runTrainJob(d: RunnerDataset, job: Omit<TrainJob, 'dataset' | 'priority'>): Promise<TrainJobResult> {
  const t0 = performance.now();
  const { onEpoch, signal, checkpoint, resume, onResume } = job;
  const r = await trainMixture({ inputs: d.inputs, targets: d.targets, split: job.split }, job.config, { experts: jobExperts(d, job.config), onEpoch, signal, checkpoint, resume, onResume });
  const valRaw = predictMixture(r.model, job.split.val.map((i) => d.inputs[i]));
  return { model: r.model, trainMae: r.trainMae, valMae: r.valMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: (performance.now() - t0) / 1000, valRaw };
}

/** The experts of a dataset that a job's config names. */
export function jobExperts(d: Pick<RunnerDataset, 'experts'>, config: Partial<MixtureConfig>): ExpertWeights[] {
  const keys = new Set(config.experts ?? []);
  return d.experts.filter((e) => keys.has(e.key));
}

/** A queue of jobs, lowest priority value first, then first come. */
export class JobQueue<T extends { priority?: number }> {
  private items: { job: T; seq: number }[] = [];
  private seq = 0;
  push(job: T): void {
    this.items.push({ job, seq: this.seq++ });
    this.items.sort((a, b) => (a.job.priority ?? 0) - (b.job.priority ?? 0) || a.seq - b.seq);
  }
  shift(): T | undefined {
    return this.items.shift()?.job;
  }
  get length(): number {
    return this.items.length;
  }
}

/** Trains jobs one after the other in this process. */
export function inProcessRunner(): TrainRunner {
  const datasets = new Map<string, RunnerDataset>();
  const queue = new JobQueue<TrainJob & { resolve(r: TrainJobResult): void; reject(e: unknown): void }>();
  let busy = false;
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    for (let next = queue.shift(); next; next = queue.shift()) {
      const d = datasets.get(next.dataset);
      try {
        if (!d) throw new Error(`dataset ${next.dataset} is not registered with the runner`);
        next.resolve(await runTrainJob(d, next));
      } catch (err) {
        next.reject(err);
      }
    }
    busy = false;
  };
  return {
    parallel: 1,
    addDataset: (d) => void datasets.set(d.id, d),
    dropDataset: (id) => void datasets.delete(id),
    run: (job) =>
      new Promise<TrainJobResult>((resolve, reject) => {
        queue.push({ ...job, resolve, reject });
        void pump();
      }),
    close: async () => datasets.clear(),
  };
}
