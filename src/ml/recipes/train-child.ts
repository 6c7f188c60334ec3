/**
 * Entry of a training child process (child-runner.ts): initialises the backend named in argv[2], keeps the datasets
 * it is sent, trains one job at a time and answers with the trained member, or the error.
 */
import { initBackend } from '../backend.js';
import type { EpochProgress } from '../mixture/trainer.js';
import { runTrainJob, type RunnerDataset, type TrainJob, type TrainJobResult } from './runner.js';

export interface JobMessage {
  type: 'job';
  id: number;
  dataset: string;
  config: TrainJob['config'];
  split: TrainJob['split'];
  progress: boolean;
  /** Thresholds of the job's checkpoint; each state goes to the parent, which answers 'saved' once it is stored. */
  checkpoint: { everyEpochs?: number; everySeconds?: number } | null;
  resume: Uint8Array | null;
}

export type ParentMessage =
  | { type: 'dataset'; dataset: RunnerDataset }
  | { type: 'drop'; dataset: string }
  | JobMessage
  | { type: 'saved'; id: number; error?: string };

export type ChildMessage =
  | { type: 'progress'; id: number; progress: EpochProgress }
  | { type: 'checkpoint'; id: number; state: Uint8Array; epoch: number }
  | { type: 'resumed'; id: number; epoch: number }
  | { type: 'result'; id: number; result: TrainJobResult }
  | { type: 'error'; id: number; message: string; stack?: string; name?: string; code?: string };

/** A job's options in this process: checkpoints travel to the parent and training waits for its answer. */
function jobOptions(m: JobMessage, reply: (m: ChildMessage) => void, saved: Map<number, (error?: string) => void>): Partial<TrainJob> {
  const onEpoch = m.progress ? (p: EpochProgress) => reply({ type: 'progress', id: m.id, progress: p }) : undefined;
  const onResume = (at: { epoch: number }) => reply({ type: 'resumed', id: m.id, epoch: at.epoch });
  const checkpoint = m.checkpoint && {
    ...m.checkpoint,
    save: (state: Uint8Array, at: { epoch: number }) =>
      new Promise<void>((resolve, reject) => {
        saved.set(m.id, (error) => (error === undefined ? resolve() : reject(new Error(`saving the checkpoint failed: ${error}`))));
        reply({ type: 'checkpoint', id: m.id, state, epoch: at.epoch });
      }),
  };
  return { onEpoch, onResume, checkpoint: checkpoint ?? undefined, resume: m.resume ?? undefined };
}

async function main(): Promise<void> {
  const backend = process.argv[2] as 'wasm' | 'cpu' | 'tensorflow';
  const ready = initBackend(backend);
  const datasets = new Map<string, RunnerDataset>();
  const reply = (m: ChildMessage) => process.send?.(m);
  const saved = new Map<number, (error?: string) => void>();
  // Jobs arrive one at a time (the parent waits for each answer), so they run in arrival order.
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (raw) => {
    const m = raw as ParentMessage;
    if (m.type === 'dataset') datasets.set(m.dataset.id, m.dataset);
    else if (m.type === 'drop') datasets.delete(m.dataset);
    else if (m.type === 'saved') {
      const done = saved.get(m.id);
      saved.delete(m.id);
      done?.(m.error);
    } else {
      chain = chain.then(async () => {
        try {
          await ready;
          const d = datasets.get(m.dataset);
          if (!d) throw new Error(`dataset ${m.dataset} was not sent to this child`);
          reply({ type: 'result', id: m.id, result: await runTrainJob(d, { config: m.config, split: m.split, ...jobOptions(m, reply, saved) }) });
        } catch (err) {
          const e = err as Error & { code?: unknown };
          reply({ type: 'error', id: m.id, message: e.message, stack: e.stack, name: e.name, ...(typeof e.code === 'string' ? { code: e.code } : {}) });
        }
      });
    }
  });
  // The parent going away ends the child.
  process.on('disconnect', () => process.exit(0));
}

await main();
