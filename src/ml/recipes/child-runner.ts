/**
 * A pool of child processes that train jobs in parallel (tfjs wasm runs one thread per process under Node, so one
 * child per core is how a training uses the machine). Each child initialises the same backend as its parent, keeps
 * the datasets it has been sent, and is replaced after `maxJobsPerChild` jobs (wasm memory never shrinks) or when
 * it dies or a job is aborted. Messages use structured clone ('advanced' serialisation): typed arrays and Maps of
 * weights travel as they are.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendInfo } from '../backend.js';
import { CHECKPOINT_ERROR_CODES, CheckpointError } from '../mixture/envelope.js';
import { TrainingAborted } from '../mixture/trainer.js';
import { JobQueue, type RunnerDataset, type TrainJob, type TrainJobResult, type TrainRunner } from './runner.js';
import type { ChildMessage, ParentMessage } from './train-child.js';

export interface ChildRunnerOptions {
  /** Children training at once (default: the machine's cores). */
  parallel?: number;
  maxJobsPerChild?: number;
  /** Backend the children initialise (default: the parent's, else wasm). */
  backend?: 'wasm' | 'cpu' | 'tensorflow';
}

interface Pending extends TrainJob {
  id: number;
  resolve(r: TrainJobResult): void;
  reject(e: unknown): void;
}

interface Slot {
  child: ChildProcess;
  datasets: Set<string>;
  jobs: number;
  current: Pending | null;
}

/** The loader flags the child needs (tsx under development), without the parent's own mode flags (--test). */
function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--import' || a === '--require' || a === '--loader' || a === '--experimental-loader') && i + 1 < argv.length) out.push(a, argv[++i]);
    else if (/^--(import|require|loader|experimental-loader|max-old-space-size)=/.test(a)) out.push(a);
  }
  return out;
}

/** A refused checkpoint stays a CheckpointError across the process boundary: callers start over on it. */
function childError(m: Extract<ChildMessage, { type: 'error' }>): Error {
  const code = CHECKPOINT_ERROR_CODES.find((c) => c === m.code);
  const err = m.name === 'CheckpointError' && code ? new CheckpointError(code, m.message) : new Error(m.message);
  return Object.assign(err, { stack: m.stack });
}

const CHILD_ENTRY = fileURLToPath(new URL(`./train-child${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export function childProcessRunner(opts: ChildRunnerOptions = {}): TrainRunner {
  const parallel = Math.max(1, opts.parallel ?? availableParallelism());
  const maxJobs = opts.maxJobsPerChild ?? 25;
  const backend = opts.backend ?? (backendInfo()?.name ?? 'wasm');
  const datasets = new Map<string, RunnerDataset>();
  const queue = new JobQueue<Pending>();
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const send = (slot: Slot, m: ParentMessage) => slot.child.send(m);

  const retire = (slot: Slot) => {
    slots.splice(slots.indexOf(slot), 1);
    slot.child.removeAllListeners();
    slot.child.kill('SIGKILL');
  };

  const spawn = (): Slot => {
    const child = fork(CHILD_ENTRY, [backend], { execArgv: childExecArgv(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const slot: Slot = { child, datasets: new Set(), jobs: 0, current: null };
    child.on('message', (raw) => {
      const m = raw as ChildMessage;
      const job = slot.current;
      if (!job || m.id !== job.id) return;
      if (m.type === 'progress') {
        job.onEpoch?.(m.progress);
        return;
      }
      if (m.type === 'resumed') {
        job.onResume?.({ epoch: m.epoch });
        return;
      }
      if (m.type === 'checkpoint') {
        void save(slot, job, m.state, m.epoch);
        return;
      }
      slot.current = null;
      slot.jobs++;
      if (m.type === 'result') job.resolve(m.result);
      else job.reject(childError(m));
      if (slot.jobs >= maxJobs) retire(slot);
      pump();
    });
    child.on('exit', (code, signal) => {
      if (!slots.includes(slot)) return;
      slots.splice(slots.indexOf(slot), 1);
      slot.current?.reject(new Error(`training child exited (${signal ?? code}) during a job`));
      slot.current = null;
      pump();
    });
    slots.push(slot);
    return slot;
  };

  /** The job's own `save`, here; the child trains on once it hears the state is stored (or why not). */
  const save = async (slot: Slot, job: Pending, state: Uint8Array, epoch: number) => {
    let error: string | undefined;
    try {
      await job.checkpoint!.save(state, { epoch });
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (slot.current === job && slots.includes(slot)) send(slot, { type: 'saved', id: job.id, ...(error === undefined ? {} : { error }) });
  };

  const start = (slot: Slot, job: Pending) => {
    const d = datasets.get(job.dataset);
    if (!d) {
      job.reject(new Error(`dataset ${job.dataset} is not registered with the runner`));
      return;
    }
    slot.current = job;
    if (!slot.datasets.has(d.id)) {
      send(slot, { type: 'dataset', dataset: d });
      slot.datasets.add(d.id);
    }
    const checkpoint = job.checkpoint ? { everyEpochs: job.checkpoint.everyEpochs, everySeconds: job.checkpoint.everySeconds } : null;
    send(slot, { type: 'job', id: job.id, dataset: job.dataset, config: job.config, split: job.split, progress: job.onEpoch !== undefined, checkpoint, resume: job.resume ?? null });
    job.signal?.addEventListener('abort', () => {
      if (slot.current !== job) return;
      slot.current = null;
      retire(slot);
      job.reject(new TrainingAborted());
      pump();
    }, { once: true });
  };

  function pump(): void {
    if (closed) return;
    while (queue.length > 0) {
      let slot = slots.find((s) => s.current === null);
      if (!slot && slots.length < parallel) slot = spawn();
      if (!slot) return;
      const job = queue.shift()!;
      if (job.signal?.aborted) {
        job.reject(new TrainingAborted());
        continue;
      }
      start(slot, job);
    }
  }

  return {
    parallel,
    addDataset: (d) => void datasets.set(d.id, d),
    dropDataset(id) {
      datasets.delete(id);
      for (const s of slots) {
        if (s.datasets.delete(id)) send(s, { type: 'drop', dataset: id });
      }
    },
    run: (job) =>
      new Promise<TrainJobResult>((resolve, reject) => {
        if (closed) throw new Error('the runner is closed');
        queue.push({ ...job, id: nextId++, resolve, reject });
        pump();
      }),
    async close() {
      closed = true;
      for (let j = queue.shift(); j; j = queue.shift()) j.reject(new Error('the runner was closed'));
      for (const s of [...slots]) {
        s.current?.reject(new Error('the runner was closed'));
        retire(s);
      }
    },
  };
}
