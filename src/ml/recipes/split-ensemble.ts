/**
 * One split's ensemble: candidate recipes trained on the training rows and scored by validation MAE in physical
 * units (or, with `selectBy: 'native'`, after the data's own transform), the best kept, `members` seeds of it
 * trained (the candidate run is the first), and a calibration fitted on
 * the validation rows. Test rows never enter: the data handed in name only training and validation rows, and every
 * other target is blanked before a trainer sees the dataset.
 */
import { randomUUID } from 'node:crypto';
import type { ExpertInput, ExpertWeights } from '../experts/expert-kind.js';
import type { MixtureConfig } from '../mixture/config.js';
import type { MixtureModel } from '../mixture/model.js';
import type { EpochProgress } from '../mixture/trainer.js';
import { trainingFingerprint } from '../mixture/trainer-state.js';
import { errorOnScale, memberOutput, physicalValues, type Basis, type TargetTransform } from '../mixture/output.js';
import { fitCalibration, type Calibration, type CalibrationSet } from '../uncertainty/calibration.js';
import { CANDIDATE_PROTOCOL, firstRound, recipe, recipeConfig, secondRound, type PoolKeys, type Protocol, type Recipe, type SkippedRecipe } from './candidates.js';
import { inProcessRunner, jobExperts, type TrainJob, type TrainJobResult, type TrainRunner } from './runner.js';
import { runStored, RunStoreError, type RunResumed, type RunStore } from './run-store.js';
import { targetProfile, type TargetProfile } from './target-profile.js';

export interface SplitData {
  inputs: readonly ExpertInput[];
  /** Physical targets; only training and validation rows are read. */
  targets: ArrayLike<number>;
  split: { train: readonly number[]; val: readonly number[] };
}

/** Experts a basis may draw on; composition experts already filtered by the leakage rule (`allowedExperts`). */
export interface ExpertPools {
  cgcnn: readonly ExpertWeights[];
  composition: readonly ExpertWeights[];
}

export interface EnsembleOptions {
  /** 'structure': CGCNN experts (with composition experts where validation prefers them); 'composition': formulas only. */
  basis: Basis;
  experts: ExpertPools;
  /** 'auto' chooses on validation; 'paper' or a recipe trains just that. Default 'auto'. */
  recipe?: 'auto' | 'paper' | Recipe;
  /** Members of the chosen recipe (different seeds); default 3. */
  members?: number;
  /** Transform the data's own convention applies (the paper's ln targets); default 'none'. */
  nativeTransform?: TargetTransform;
  protocol?: Protocol;
  /** Most candidate trainings (round 2 is cut first); default 5. */
  maxCandidates?: number;
  /** Seed of the candidates and the first member; member j uses seed + 100 j. Default 0. */
  seed?: number;
  /** ensembleGroup of the members (one per split). Default 0. */
  group?: number;
  /**
   * The validation MAE candidates are compared on, and each run's best epoch kept by: 'physical' units (default), or
   * 'native' = after `nativeTransform` (the paper's units). Where targets span decades (ε up to 10⁶), one validation
   * row can decide a physical MAE.
   */
  selectBy?: 'physical' | 'native';
  /** Physical lower bound: 'auto' = 0 when no training target is negative. Default 'auto'. */
  targetMin?: number | null | 'auto';
  /** Further config for every run (batchSize, maxBatchAtoms, ...). */
  extra?: Partial<MixtureConfig>;
  /** Default: an in-process runner, closed at the end. */
  runner?: TrainRunner;
  priority?: number;
  onCandidate?(c: CandidateResult): void;
  /** Per-epoch progress of every run (candidate or extra member), with the recipe and seed it trains. */
  onEpoch?(run: { recipe: string; seed: number }, p: EpochProgress): void;
  signal?: AbortSignal;
  /**
   * Keeps every run under `${basis}/g${group}/${recipe}/seed${seed}`: a finished run's result, which a later call
   * with the same store takes instead of training, or an unfinished run's state, from which it continues. The
   * ensemble comes out as an uninterrupted call's would.
   */
  checkpoints?: RunStore;
  /** How often an unfinished run saves its state to `checkpoints`; default every 60 seconds. */
  checkpointEvery?: { epochs?: number; seconds?: number };
  /** Each run that `checkpoints` held something for. */
  onResume?(info: RunResumed): void;
}

export interface CandidateResult {
  recipe: Recipe;
  round: 1 | 2;
  /** MAEs in physical units. */
  valMae: number;
  /** Validation MAE after the data's own transform (the paper's units; equal to valMae without one). */
  valMaeNative: number;
  trainMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  gate: { key: string; weight: number }[];
  model: MixtureModel;
  valRaw: Float32Array;
}

export interface SplitEnsemble {
  basis: Basis;
  chosen: Recipe;
  candidates: CandidateResult[];
  skipped: SkippedRecipe[];
  members: MixtureModel[];
  /** Raw outputs of each member on the validation rows. */
  memberValRaw: Float32Array[];
  /** Fitted on this split's validation rows alone. */
  calibration: Calibration;
  /** The validation rows as calibration input, for pooling several splits into one calibration. */
  calibrationSet: CalibrationSet;
  profile: TargetProfile;
  targetMin: number | null;
  seconds: number;
}

const keysOf = (p: ExpertPools): PoolKeys => ({ cgcnn: p.cgcnn.map((e) => e.key), composition: p.composition.map((e) => e.key) });

function candidateOf(r: Recipe, round: 1 | 2, j: TrainJobResult, valTargets: readonly number[], native: TargetTransform): CandidateResult {
  const gate = j.model.gateWeights.map((w, i) => ({ key: j.model.experts[i].key, weight: w }));
  const phys = physicalValues(memberOutput(j.model), j.valRaw);
  const valMaeNative = valTargets.reduce((a, y, i) => a + errorOnScale(native, phys[i], y), 0) / valTargets.length;
  return { recipe: r, round, valMae: j.valMae, valMaeNative, trainMae: j.trainMae, bestEpoch: j.bestEpoch, epochsRun: j.epochsRun, seconds: j.seconds, gate, model: j.model, valRaw: j.valRaw };
}

export async function trainSplitEnsemble(data: SplitData, opts: EnsembleOptions): Promise<SplitEnsemble> {
  const t0 = performance.now();
  const { train, val } = data.split;
  if (train.length === 0 || val.length === 0) throw new RangeError('a split ensemble needs training and validation rows');
  const nativeTransform = opts.nativeTransform ?? 'none';
  const protocol = opts.protocol ?? CANDIDATE_PROTOCOL;
  const members = opts.members ?? 3;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(members) || members < 1) throw new RangeError(`members must be an integer ≥ 1 (got ${members})`);
  // Training and validation targets decide which transforms can apply (ln of a validation 0 would fail).
  const profile = targetProfile([...train, ...val].map((r) => data.targets[r]), nativeTransform);
  const valTargets = val.map((r) => data.targets[r]);
  const targetMin = opts.targetMin === undefined || opts.targetMin === 'auto' ? (profile.min >= 0 ? 0 : null) : opts.targetMin;

  // Only training and validation targets reach a trainer: the rest are blanked.
  const targets = new Float64Array(data.targets.length).fill(Number.NaN);
  for (const r of [...train, ...val]) targets[r] = data.targets[r];
  if (opts.basis === 'structure' && opts.experts.cgcnn.length === 0) throw new RangeError('structure members need crystal-graph experts');
  if (opts.basis === 'composition' && opts.experts.composition.length === 0) throw new RangeError('composition members need composition experts');
  const pools = opts.basis === 'structure' ? opts.experts : { cgcnn: [], composition: opts.experts.composition };
  const keys = keysOf(pools);
  const runner = opts.runner ?? inProcessRunner();
  const dataset = randomUUID();
  const experts = [...pools.cgcnn, ...pools.composition];
  runner.addDataset({ id: dataset, inputs: data.inputs, targets, experts });
  const group = opts.group ?? 0;
  // Every choice on validation rows (the best epoch too) is made on the scale candidates are compared on. Physical
  // units stay the config's default, so runs checkpointed before `stopOn` existed keep their fingerprint.
  const stopOn = opts.selectBy === 'native' ? nativeTransform : 'none';
  const extra: Partial<MixtureConfig> = { ...opts.extra, seed, targetMin, basis: opts.basis, ensembleGroup: group, ...(stopOn !== 'none' && { stopOn }) };
  const stored = opts.checkpoints && {
    store: opts.checkpoints,
    every: opts.checkpointEvery,
    base: (key: string, sha: string) => experts.find((e) => e.key === key && e.baseSha256 === sha)?.weights,
    onResume: opts.onResume,
  };
  const train1 = (r: Recipe, s: number) => {
    const onEpoch = opts.onEpoch ? (p: EpochProgress) => opts.onEpoch!({ recipe: r.name, seed: s }, p) : undefined;
    const job: TrainJob = { dataset, config: { ...recipeConfig(r, keys, protocol, extra), seed: s }, split: { train, val }, priority: opts.priority, signal: opts.signal, onEpoch };
    if (!stored) return runner.run(job);
    const fingerprint = trainingFingerprint(job.config, { inputs: data.inputs, targets, split: job.split }, jobExperts({ experts }, job.config));
    return runStored(runner, job, `${opts.basis}/g${group}/${r.name}/seed${s}`, fingerprint, stored);
  };

  try {
    const candidates: CandidateResult[] = [];
    const skipped: SkippedRecipe[] = [];
    // A candidate that fails is recorded and passed over; only when none trains does the split fail.
    const runRound = async (recipes: Recipe[], round: 1 | 2) => {
      const done = await Promise.all(recipes.map(async (r) => {
        try {
          const c = candidateOf(r, round, await train1(r, seed), valTargets, nativeTransform);
          opts.onCandidate?.(c);
          return c;
        } catch (err) {
          if (opts.signal?.aborted || err instanceof RunStoreError) throw err;
          skipped.push({ name: r.name, reason: `failed: ${(err as Error).message}` });
          return null;
        }
      }));
      candidates.push(...done.filter((c): c is CandidateResult => c !== null));
      if (candidates.length === 0) throw new Error(`no candidate recipe trained (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`);
    };
    const score = (c: CandidateResult) => (opts.selectBy === 'native' ? c.valMaeNative : c.valMae);
    const best = () => candidates.reduce((a, b) => (score(b) < score(a) ? b : a));
    const maxCandidates = opts.maxCandidates ?? 5;

    if (opts.recipe === undefined || opts.recipe === 'auto') {
      const first = firstRound(opts.basis, nativeTransform, keys.composition.length);
      skipped.push(...first.skipped);
      const r1 = first.recipes.slice(0, Math.max(1, maxCandidates));
      for (const r of first.recipes.slice(r1.length)) skipped.push({ name: r.name, reason: 'candidate budget' });
      await runRound(r1, 1);
      const second = secondRound(best().recipe, profile, nativeTransform);
      skipped.push(...second.skipped);
      const room = Math.max(0, maxCandidates - candidates.length);
      for (const r of second.recipes.slice(room)) skipped.push({ name: r.name, reason: 'candidate budget' });
      if (room > 0 && second.recipes.length > 0) await runRound(second.recipes.slice(0, room), 2);
    } else {
      const own = opts.basis === 'structure' ? 'cgcnn' : 'composition';
      await runRound([opts.recipe === 'paper' ? recipe(own, 'equal', 'mse', nativeTransform, nativeTransform) : opts.recipe], 1);
    }
    const chosen = best();
    const extraRuns = await Promise.all(Array.from({ length: members - 1 }, (_, j) => train1(chosen.recipe, seed + 100 * (j + 1))));
    const memberModels = [chosen.model, ...extraRuns.map((r) => r.model)];
    const memberValRaw = [chosen.valRaw, ...extraRuns.map((r) => r.valRaw)];
    const calibrationSet: CalibrationSet = { members: memberModels.map(memberOutput), raw: memberValRaw, targets: valTargets };
    return {
      basis: opts.basis,
      chosen: chosen.recipe,
      candidates,
      skipped,
      members: memberModels,
      memberValRaw,
      calibration: fitCalibration([calibrationSet]),
      calibrationSet,
      profile,
      targetMin,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    runner.dropDataset(dataset);
    if (!opts.runner) await runner.close();
  }
}
