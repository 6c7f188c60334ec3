/**
 * Runs of a split ensemble (candidates, extra members) kept across calls, so that a job retried after a crash redoes
 * neither the runs it finished nor the epochs it checkpointed. Under each run's key a store holds either the finished
 * run's result or the unfinished run's trainer state (trainer-state.ts), whichever came last.
 *
 * A result is framed (envelope.ts, tag "MATMOERR") from two sealed parts: the numbers (MAEs, epochs, seconds, the
 * fingerprint of the job that trained it) with the raw validation outputs, and the model checkpoint, written without
 * the tensors it shares with the expert pool — loading it needs the same pool.
 */
import type { BaseWeights } from '../mixture/checkpoint.js';
import { loadCheckpoint, serializeCheckpoint } from '../mixture/checkpoint.js';
import { CheckpointError, frame, fromJson, seal, toJson, unframe, unseal } from '../mixture/envelope.js';
import { parseSafetensors, serializeSafetensors } from '../safetensors.js';
import type { TrainJob, TrainJobResult, TrainRunner } from './runner.js';

export interface RunStore {
  /** Bytes saved under a run key: a finished run's result, or an unfinished run's trainer state. */
  load(key: string): Promise<{ done: boolean; bytes: Uint8Array } | null>;
  save(key: string, bytes: Uint8Array, done: boolean): Promise<void>;
}

/**
 * What a run found in the store: its result ('done', not trained again), a state it continued from ('resumed', at
 * `epoch`, 0-based), or bytes it could not use and trained over ('discarded', with the reason).
 */
export interface RunResumed {
  key: string;
  kind: 'done' | 'resumed' | 'discarded';
  epoch?: number;
  reason?: string;
}

export interface StoredRuns {
  store: RunStore;
  /** Checkpoint thresholds of a run; default every 60 seconds. */
  every?: { epochs?: number; seconds?: number };
  /** The expert pool's shipped weights, which stored models leave out. */
  base: BaseWeights;
  onResume?(info: RunResumed): void;
}

/** The store failed (not the training): the ensemble fails with it rather than passing the run over. */
export class RunStoreError extends Error {
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`run store failed for ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RunStoreError';
  }
}

const TAG = 'MATMOERR';
const NUMBERS_TAG = 'MATMOERN';
const VERSION = 1;
const WHAT = 'run result';

type RunNumbers = Omit<TrainJobResult, 'model' | 'valRaw'> & { fingerprint: string };

/** `fingerprint` names the job (trainingFingerprint of its config and data); a result is only reused by that job. */
export function serializeRunResult(r: TrainJobResult, fingerprint: string, base?: BaseWeights): Uint8Array {
  const numbers: RunNumbers = { fingerprint, trainMae: r.trainMae, valMae: r.valMae, bestEpoch: r.bestEpoch, epochsRun: r.epochsRun, seconds: r.seconds };
  const part = serializeSafetensors(new Map([['valRaw', { shape: [r.valRaw.length], data: r.valRaw }]]), { run: toJson(numbers) });
  return frame(TAG, [seal(NUMBERS_TAG, VERSION, part), serializeCheckpoint(r.model, base)]);
}

export function loadRunResult(bytes: Uint8Array, base?: BaseWeights): { fingerprint: string; result: TrainJobResult } {
  const parts = unframe(bytes, TAG, WHAT);
  if (parts.length !== 2) throw new CheckpointError('checkpoint_malformed', `${WHAT} has ${parts.length} parts, not 2`);
  let valRaw: Float32Array | undefined;
  let numbers: RunNumbers;
  try {
    const file = parseSafetensors(unseal(parts[0], NUMBERS_TAG, VERSION, WHAT));
    valRaw = file.tensors.get('valRaw')?.data;
    numbers = fromJson(file.metadata.run ?? 'null') as RunNumbers;
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError('checkpoint_malformed', `${WHAT} unreadable: ${(err as Error).message}`);
  }
  if (!valRaw || typeof numbers?.fingerprint !== 'string') throw new CheckpointError('checkpoint_malformed', `${WHAT} lacks its validation outputs or numbers`);
  const { fingerprint, ...rest } = numbers;
  return { fingerprint, result: { ...rest, model: loadCheckpoint(parts[1], base), valRaw } };
}

/** The stored result of a finished run when it is this job's, else why it is not. */
function storedResult(bytes: Uint8Array, fingerprint: string, base: BaseWeights): TrainJobResult | string {
  try {
    const stored = loadRunResult(bytes, base);
    return stored.fingerprint === fingerprint ? stored.result : 'the stored result was trained with another config or data';
  } catch (err) {
    if (err instanceof CheckpointError) return err.message;
    throw err;
  }
}

/**
 * Runs `job` on `runner` unless `key` holds its finished result; continues from the state `key` holds, checkpoints
 * under `key` while it trains, and stores its result there when it ends. `fingerprint` names the job's config and data.
 */
export async function runStored(runner: TrainRunner, job: TrainJob, key: string, fingerprint: string, runs: StoredRuns): Promise<TrainJobResult> {
  const report = (info: Omit<RunResumed, 'key'>) => runs.onResume?.({ key, ...info });
  // A checkpoint's save may fail in a child's run, whose error comes back as a plain one: the failure is kept here.
  let storeFailure: RunStoreError | null = null;
  const stored = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      storeFailure = new RunStoreError(key, err);
      throw storeFailure;
    }
  };
  const saved = await stored(() => runs.store.load(key));
  let resume: Uint8Array | undefined;
  if (saved?.done) {
    const found = storedResult(saved.bytes, fingerprint, runs.base);
    if (typeof found !== 'string') {
      report({ kind: 'done' });
      return found;
    }
    report({ kind: 'discarded', reason: found });
  } else if (saved) resume = saved.bytes;

  const every = runs.every ?? { seconds: 60 };
  const checkpoint = { everyEpochs: every.epochs, everySeconds: every.seconds, save: (state: Uint8Array) => stored(() => runs.store.save(key, state, false)) };
  const onResume = (at: { epoch: number }) => report({ kind: 'resumed', epoch: at.epoch });
  let result: TrainJobResult;
  try {
    result = await runner.run({ ...job, checkpoint, resume, onResume });
  } catch (err) {
    if (storeFailure) throw storeFailure;
    if (!resume || !(err instanceof CheckpointError) || job.signal?.aborted) throw err;
    // A state this job cannot continue (written by another version, or for other data under the same key): start over.
    report({ kind: 'discarded', reason: err.message });
    result = await runner.run({ ...job, checkpoint });
  }
  await stored(() => runs.store.save(key, serializeRunResult(result, fingerprint, runs.base), true));
  return result;
}
