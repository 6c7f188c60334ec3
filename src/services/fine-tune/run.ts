/**
 * Runs a queued fine-tune: a split ensemble (recipe chosen on the validation rows, `members` seeds of it, calibration
 * fitted on the validation rows) trained on the stored dataset and split, in child processes (one per core: tfjs wasm
 * runs one thread per process). The model and the job's completion are written in one transaction, so a job is never
 * completed without its model nor a model stored for an unfinished job. Test rows are only read for the report.
 */
import { availableParallelism } from 'node:os';
import { resolveInput, type MaterialInput } from '../../chem/input.js';
import { getDataset, getDatasetRows, type DatasetRecord } from '../../db/dataset-queries.js';
import { getExpert, getExpertWeights } from '../../db/expert-queries.js';
import { completeJob } from '../../db/job-queries.js';
import { insertModel, type ModelRecord } from '../../db/model-queries.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { getSplit, type SplitRecord } from '../../db/split-queries.js';
import { crystalGraph } from '../../ml/cgcnn/batching.js';
import type { ExpertInput, ExpertWeights } from '../../ml/experts/expert-kind.js';
import { expertFromBytes } from '../../ml/experts/registry.js';
import { modelSha256, serializeEnsemble } from '../../ml/mixture/ensemble.js';
import type { EpochProgress } from '../../ml/mixture/trainer.js';
import { recipe, type ExpertPool, type Recipe } from '../../ml/recipes/candidates.js';
import { childProcessRunner } from '../../ml/recipes/child-runner.js';
import { heldOutReport, predictCalibrated } from '../../ml/recipes/evaluate.js';
import { trainSplitEnsemble, type SplitEnsemble } from '../../ml/recipes/split-ensemble.js';
import { candidateSummary } from '../../ml/recipes/summary.js';
import { ensembleGate, loadModel } from '../../ml/stored-model.js';
import type { TrainingSettings } from '../../queue/job-types.js';
import { deleteJobCheckpoints, getRunCheckpoint, saveRunCheckpoint } from '../../db/checkpoint-queries.js';
import type { RunResumed, RunStore } from '../../ml/recipes/run-store.js';
import type { FineTunePayload } from './request.js';

/** The job's runs in Postgres: a retried job finds what its earlier attempt finished or checkpointed. */
function jobRunStore(pool: Pool, jobId: string): RunStore {
  return {
    async load(key) {
      const c = await getRunCheckpoint(pool, jobId, key);
      return c ? { done: c.done, bytes: new Uint8Array(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength) } : null;
    },
    save: (key, bytes, done) => saveRunCheckpoint(pool, jobId, key, { done, bytes }),
  };
}

/** Experts from Postgres (the source of truth), each checked against its card as it is read. */
export async function loadStoredExperts(pool: Pool, keys: readonly string[]): Promise<ExpertWeights[]> {
  return Promise.all(keys.map(async (key) => {
    const [record, blob] = await Promise.all([getExpert(pool, key), getExpertWeights(pool, key)]);
    if (!record || !blob) throw new Error(`expert ${key} is not in the database`);
    return expertFromBytes(record.kind, new Uint8Array(blob.weights.buffer, blob.weights.byteOffset, blob.weights.byteLength), record.card, blob.sha256);
  }));
}

/** The one recipe of a custom request (its experts are the pool), or what "auto" and "paper" ask the ensemble for. */
function recipeOf(payload: FineTunePayload, experts: readonly ExpertWeights[]): 'auto' | 'paper' | Recipe {
  if (payload.recipe !== 'custom' || !payload.custom) return payload.recipe === 'custom' ? 'auto' : payload.recipe;
  const kinds = new Set(experts.map((e) => e.kind));
  const pool: ExpertPool = kinds.has('cgcnn') && kinds.has('composition') ? 'cgcnn+composition' : kinds.has('cgcnn') ? 'cgcnn' : 'composition';
  return recipe(pool, payload.custom.gateInit, payload.custom.loss, 'none', 'none');
}

export interface FineTuneOptions {
  pool: Pool;
  jobId: string;
  /** The principal that submitted the job: it owns the model, and reads the dataset as itself. */
  owner: string;
  payload: FineTunePayload;
  backend: string;
  training: TrainingSettings;
  signal: AbortSignal;
  report(progress: Record<string, unknown>): Promise<void>;
}

/** Progress is reported once per epoch of any run, at most every 250 ms (and always for a run's last epoch). */
export async function runFineTune(opts: FineTuneOptions): Promise<Record<string, unknown>> {
  const { pool, payload } = opts;
  const dataset = await getDataset(pool, opts.owner, payload.dataset);
  if (!dataset) throw new Error(`dataset ${payload.dataset} no longer exists`);
  const split = await getSplit(pool, payload.dataset, payload.split);
  if (!split) throw new Error(`split ${payload.split} of dataset ${payload.dataset} no longer exists`);
  const rows = await getDatasetRows(pool, payload.dataset);
  const experts = await loadStoredExperts(pool, payload.experts);
  const structure = payload.basis === 'structure';

  await opts.report({ stage: 'preparing', rows: rows.length, experts: experts.length });
  const resolved = rows.map((r) => resolveInput(r.input as MaterialInput));
  const inputs: ExpertInput[] = [];
  for (const r of resolved) {
    inputs.push(structure && r.structure ? { formula: r.formula, graph: crystalGraph(r.structure) } : { formula: r.formula });
    // Graphs of a large dataset take seconds: the worker's lock renewal and cancellation must still run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const targets = Float64Array.from(rows, (r) => r.target ?? Number.NaN);

  const runs: { recipe: string; valMae: number }[] = [];
  // What this attempt took over from an earlier one: finished runs reused, and runs continued after their last checkpoint.
  const resumed: { run: string; epoch: number | null }[] = [];
  let lastReport = 0;
  let reporting = false;
  let lastProgress: Record<string, unknown> = {};
  const onEpoch = (run: { recipe: string; seed: number }, p: EpochProgress): void => {
    // Epochs are counted from 1 for people.
    lastProgress = {
      stage: 'training', recipe: run.recipe, seed: run.seed, epoch: p.epoch + 1, epochs: p.epochs, trainLoss: p.trainLoss, valMae: p.valMae,
      bestValMae: p.bestValMae, bestEpoch: p.bestEpoch + 1, gate: p.gate, seconds: p.seconds, candidates: runs,
      ...(resumed.length > 0 ? { resumedFrom: resumed } : {}),
    };
    const now = Date.now();
    if (reporting || (now - lastReport < 250 && p.epoch + 1 < p.epochs)) return;
    lastReport = now;
    reporting = true;
    // A progress write that finds the job cancelled aborts the job's signal, which stops the runs.
    opts.report(lastProgress).catch(() => {}).finally(() => {
      reporting = false;
    });
  };
  const runner = childProcessRunner({ parallel: opts.training.processes > 0 ? opts.training.processes : availableParallelism() });
  const onResume = (r: RunResumed): void => {
    // Epochs are counted from 1 for people: a run continues after epoch `epoch + 1`.
    if (r.kind !== 'discarded') resumed.push({ run: r.key, epoch: r.kind === 'resumed' ? (r.epoch as number) + 1 : null });
  };
  let ensemble: SplitEnsemble;
  try {
    ensemble = await trainSplitEnsemble(
      { inputs, targets, split: { train: split.train, val: split.val } },
      {
        basis: payload.basis,
        experts: { cgcnn: experts.filter((e) => e.kind === 'cgcnn'), composition: experts.filter((e) => e.kind === 'composition') },
        recipe: recipeOf(payload, experts),
        members: payload.members,
        seed: payload.seed,
        protocol: { epochs: payload.epochs, patience: payload.patience, k: payload.k },
        extra: { batchSize: payload.batchSize, ...(payload.custom ? { mode: payload.custom.mode, gateWarmup: payload.custom.gateWarmup } : {}) },
        runner,
        signal: opts.signal,
        onEpoch,
        onCandidate: (c) => void runs.push({ recipe: c.recipe.name, valMae: c.valMae }),
        checkpoints: jobRunStore(pool, opts.jobId),
        checkpointEvery: { seconds: opts.training.checkpointSeconds },
        onResume,
      },
    );
  } finally {
    await runner.close();
  }

  await opts.report({ ...lastProgress, stage: 'saving', ...(resumed.length > 0 ? { resumedFrom: resumed } : {}) });
  return saveModel(opts, ensemble, { dataset, experts, rows, resolved, inputs, split });
}

/** Stores the ensemble as a model with its card and completes the job, in one transaction. */
async function saveModel(
  opts: FineTuneOptions,
  e: SplitEnsemble,
  data: {
    dataset: DatasetRecord;
    experts: readonly ExpertWeights[];
    rows: readonly { target: number | null }[];
    resolved: readonly { composition: Record<string, number> }[];
    inputs: readonly ExpertInput[];
    split: SplitRecord;
  },
): Promise<Record<string, unknown>> {
  const { pool, payload } = opts;
  const { dataset, experts } = data;
  const baseOf = (key: string, sha: string) => experts.find((b) => b.key === key && b.baseSha256 === sha)?.weights;
  const weights = serializeEnsemble(e.members, baseOf);
  // What is stored is what will be served: the bytes are loaded back exactly as the inference threads load them.
  const { members, needsStructure } = loadModel(weights, baseOf);
  const { split } = data;
  // Test rows are read here, once, after every choice was made on validation rows.
  const test = split.test.length > 0
    ? heldOutReport(predictCalibrated(members, e.calibration, split.test.map((i) => data.inputs[i])), split.test.map((i) => data.rows[i].target as number))
    : null;
  const chosen = e.candidates.find((c) => c.recipe.name === e.chosen.name)!;
  const summary = { recipe: e.chosen.name, valMae: chosen.valMae, testMae: test?.mae ?? null, coverage90: test?.coverage ?? null, bestEpoch: chosen.bestEpoch, epochsRun: chosen.epochsRun };
  const metrics = {
    ...summary, trainMae: chosen.trainMae, members: members.length, basis: e.basis, meanWidth90: test?.meanWidth ?? null,
    candidates: e.candidates.map(candidateSummary), skipped: e.skipped, bound: e.calibration.bound,
    calibration: { [e.basis]: e.calibration }, trainSeconds: e.seconds, backend: opts.backend,
    parity: { targets: split.test.map((i) => data.rows[i].target as number), predictions: test?.values.map((v) => v.value) ?? [] },
    trainingElements: [...new Set(split.train.flatMap((i) => Object.keys(data.resolved[i].composition)))].sort(),
  };
  const model: ModelRecord = await withTransaction(pool, async (client) => {
    const m = await insertModel(client, {
      owner: opts.owner, visibility: payload.visibility, name: payload.name, property: dataset.property, unit: dataset.unit, datasetId: dataset.id, splitId: split.id, jobId: opts.jobId,
      inputKinds: needsStructure ? ['structure', 'cif', 'poscar'] : ['formula', 'structure', 'cif', 'poscar'],
      config: members[0].config as unknown as Record<string, unknown>, experts: ensembleGate(members), metrics,
      weights, checksum: modelSha256(weights), shipped: false,
    });
    await completeJob(client, opts.jobId, { model: m.id, name: m.name, ...summary });
    await deleteJobCheckpoints(client, opts.jobId);
    return m;
  });
  return { model: model.id, name: model.name, ...summary };
}
