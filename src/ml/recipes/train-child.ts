/**
 * Entry of a training child process (child-runner.ts): initialises the backend named in argv[2], keeps the datasets
 * it is sent, trains one job at a time and answers with the trained member, or the error.
 */
import { initBackend } from '../backend.js';
import type { EpochProgress } from '../mixture/trainer.js';
import { runTrainJob, type RunnerDataset, type TrainJob, type TrainJobResult } from './runner.js';

export type ParentMessage =
  | { type: 'dataset'; dataset: RunnerDataset }
  | { type: 'drop'; dataset: string }
  | { type: 'job'; id: number; dataset: string; config: TrainJob['config']; split: TrainJob['split']; progress: boolean };

export type ChildMessage =
  | { type: 'progress'; id: number; progress: EpochProgress }
  | { type: 'result'; id: number; result: TrainJobResult }
  | { type: 'error'; id: number; message: string; stack?: string };

async function main(): Promise<void> {
  const backend = process.argv[2] as 'wasm' | 'cpu' | 'tensorflow';
  const ready = initBackend(backend);
  const datasets = new Map<string, RunnerDataset>();
  const reply = (m: ChildMessage) => process.send?.(m);
  // Jobs arrive one at a time (the parent waits for each answer), so they run in arrival order.
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (raw) => {
    const m = raw as ParentMessage;
    if (m.type === 'dataset') datasets.set(m.dataset.id, m.dataset);
    else if (m.type === 'drop') datasets.delete(m.dataset);
    else {
      chain = chain.then(async () => {
        try {
          await ready;
          const d = datasets.get(m.dataset);
          if (!d) throw new Error(`dataset ${m.dataset} was not sent to this child`);
          const onEpoch = m.progress ? (p: EpochProgress) => reply({ type: 'progress', id: m.id, progress: p }) : undefined;
          reply({ type: 'result', id: m.id, result: await runTrainJob(d, { config: m.config, split: m.split, onEpoch }) });
        } catch (err) {
          reply({ type: 'error', id: m.id, message: (err as Error).message, stack: (err as Error).stack });
        }
      });
    }
  });
  // The parent going away ends the child.
  process.on('disconnect', () => process.exit(0));
}

await main();
