/**
 * What a mixture training run takes and gives (trainer.ts): the data, options, per-epoch progress and the result.
 */
import type { ExpertWeights, ExpertInput } from '../experts/expert-kind.js';
import type { MixtureModel } from './model.js';

export interface DataSplit {
  train: readonly number[];
  val: readonly number[];
  test?: readonly number[];
}

export interface MixtureData {
  inputs: readonly ExpertInput[];
  /** In the property's physical units (the config's targetTransform is applied here); only rows named by the split are read. */
  targets: ArrayLike<number>;
  split: DataSplit;
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  trainLoss: number;
  valLoss: number;
  valMae: number;
  /** The best epoch's validation MAE on the `stopOn` scale (physical units unless the config says otherwise). */
  bestValMae: number;
  bestEpoch: number;
  lr: number;
  /** Selected experts and their weights this epoch, largest first. */
  gate: { key: string; weight: number }[];
  /** In the training loop since it started (after preparation), summed over the calls of a resumed run. */
  seconds: number;
}

export interface TrainOptions {
  /** Experts to draw from, of any kind (default: the shipped CGCNN experts). */
  experts?: readonly ExpertWeights[];
  /** After each expert's frozen part is computed (the slow part before the first epoch). */
  onPrepare?(progress: { expert: string; done: number; total: number; seconds: number }): void;
  onEpoch?(progress: EpochProgress): void | Promise<void>;
  signal?: AbortSignal;
  /**
   * Saves the run's state (trainer-state.ts) after an epoch once `everyEpochs` epochs (counted from epoch 0: after
   * epochs everyEpochs-1, 2·everyEpochs-1, ...) or `everySeconds` seconds since the last save (or since this call's
   * first epoch began) have passed. Never after
   * the run's last epoch (the end of the epochs or the early stop): the result is what is kept then. Training waits
   * for `save`; an error it throws fails the run.
   */
  checkpoint?: TrainCheckpoint;
  /** A state saved by `checkpoint` of this same run (same config, data and experts; CheckpointError otherwise). */
  resume?: Uint8Array;
  /** Once a `resume` state is accepted, before its next epoch runs. */
  onResume?(at: { epoch: number }): void;
}

export interface TrainCheckpoint {
  everyEpochs?: number;
  everySeconds?: number;
  /** `at.epoch`: the last epoch the state holds (0-based, as EpochProgress.epoch). */
  save(state: Uint8Array, at: { epoch: number }): Promise<void> | void;
}

export interface TrainResult {
  model: MixtureModel;
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  /** MAEs in physical units (after undoing the target transform and clamping to targetMin). */
  trainMae: number;
  valMae: number;
  testMae: number | null;
  /** Preparation (frozen layers for every expert and row), training loop, and per epoch. */
  prepareSeconds: number;
  trainSeconds: number;
  secondsPerEpoch: number;
  /**
   * Every epoch's progress, those before a resume included. The results of a resumed run equal those of the run
   * uninterrupted, but for the seconds it reports (the training loop's own time, summed over the calls).
   */
  history: EpochProgress[];
  /** The epoch (0-based) of the state this call resumed from; null for a run from the start. */
  resumedFrom: number | null;
}

export class TrainingAborted extends Error {
  constructor() {
    super('training aborted');
    this.name = 'AbortError';
  }
}

export function checkCheckpoint(ck: TrainCheckpoint | undefined): void {
  if (ck?.everyEpochs !== undefined && !(Number.isInteger(ck.everyEpochs) && ck.everyEpochs >= 1)) throw new RangeError(`checkpoint.everyEpochs must be an integer ≥ 1 (got ${ck.everyEpochs})`);
  if (ck?.everySeconds !== undefined && !(ck.everySeconds >= 0)) throw new RangeError(`checkpoint.everySeconds must be ≥ 0 (got ${ck.everySeconds})`);
}

export function checkData(data: MixtureData): void {
  const n = data.inputs.length;
  if (data.targets.length !== n) throw new RangeError(`${n} inputs but ${data.targets.length} targets`);
  const seen = new Set<number>();
  for (const [name, rows] of Object.entries(data.split) as [string, readonly number[] | undefined][]) {
    for (const r of rows ?? []) {
      if (!Number.isInteger(r) || r < 0 || r >= n) throw new RangeError(`split ${name} names row ${r}, outside 0..${n - 1}`);
      if (seen.has(r)) throw new RangeError(`row ${r} is in more than one split (or twice)`);
      seen.add(r);
      if (!Number.isFinite(data.targets[r])) throw new RangeError(`target of row ${r} is not a finite number`);
    }
  }
  if (data.split.train.length === 0) throw new RangeError('the training split is empty');
  if (data.split.val.length === 0) throw new RangeError('the validation split is empty (early stopping needs it)');
}
