/**
 * Runs a queued fine-tune: trains a mixture on the stored dataset and split, then writes the model and completes the
 * job in one transaction, so a job is never completed without its model nor a model stored for an unfinished job.
 */
import { resolveInput, type MaterialInput } from '../../chem/input.js';
import { getDataset, getDatasetRows } from '../../db/dataset-queries.js';
import { getExpert, getExpertWeights } from '../../db/expert-queries.js';
import { completeJob } from '../../db/job-queries.js';
import { insertModel, type ModelRecord } from '../../db/model-queries.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { getSplit } from '../../db/split-queries.js';
import { crystalGraph } from '../../ml/cgcnn/batching.js';
import type { ExpertInput, ExpertWeights } from '../../ml/experts/expert-kind.js';
import { expertFromBytes } from '../../ml/experts/registry.js';
import { modelSha256, serializeEnsemble } from '../../ml/mixture/ensemble.js';
import { predictMixture } from '../../ml/mixture/model.js';
import { trainMixture, type EpochProgress } from '../../ml/mixture/trainer.js';
import { ensembleGate, loadModel } from '../../ml/stored-model.js';
import type { FineTunePayload } from './request.js';

/** Experts from Postgres (the source of truth), each checked against its card as it is read. */
export async function loadStoredExperts(pool: Pool, keys: readonly string[]): Promise<ExpertWeights[]> {
  return Promise.all(keys.map(async (key) => {
    const [record, blob] = await Promise.all([getExpert(pool, key), getExpertWeights(pool, key)]);
    if (!record || !blob) throw new Error(`expert ${key} is not in the database`);
    return expertFromBytes(record.kind, new Uint8Array(blob.weights.buffer, blob.weights.byteOffset, blob.weights.byteLength), record.card, blob.sha256);
  }));
}

/** Progress is reported once per epoch, at most every 250 ms (and always for the last epoch). */
export async function runFineTune(opts: {
  pool: Pool;
  jobId: string;
  /** The principal that submitted the job: it owns the model, and reads the dataset as itself. */
  owner: string;
  payload: FineTunePayload;
  backend: string;
  signal: AbortSignal;
  report(progress: Record<string, unknown>): Promise<void>;
}): Promise<Record<string, unknown>> {
  const { pool, payload } = opts;
  const dataset = await getDataset(pool, opts.owner, payload.dataset);
  if (!dataset) throw new Error(`dataset ${payload.dataset} no longer exists`);
  const split = await getSplit(pool, payload.dataset, payload.split);
  if (!split) throw new Error(`split ${payload.split} of dataset ${payload.dataset} no longer exists`);
  const rows = await getDatasetRows(pool, payload.dataset);
  const experts = await loadStoredExperts(pool, payload.experts);
  const readsStructures = experts.some((b) => b.kind === 'cgcnn');

  await opts.report({ stage: 'preparing', rows: rows.length, experts: experts.length });
  const inputs: ExpertInput[] = rows.map((r) => {
    const resolved = resolveInput(r.input as MaterialInput);
    return readsStructures && resolved.structure ? { formula: resolved.formula, graph: crystalGraph(resolved.structure) } : { formula: resolved.formula };
  });
  const targets = Float64Array.from(rows, (r) => r.target ?? Number.NaN);

  let lastReport = 0;
  let lastProgress: Record<string, unknown> = {};
  const { mode, k, epochs, patience, seed, batchSize, loss, gateWarmup, gateInit } = payload;
  const result = await trainMixture(
    { inputs, targets, split: { train: split.train, val: split.val, test: split.test } },
    { mode, experts: payload.experts, k, epochs, patience, seed, batchSize, loss, gateWarmup, gateInit },
    {
      experts,
      signal: opts.signal,
      async onEpoch(p: EpochProgress) {
        // Epochs are counted from 1 for people; the last one is always reported.
        lastProgress = { stage: 'training', epoch: p.epoch + 1, epochs: p.epochs, trainLoss: p.trainLoss, valMae: p.valMae, bestValMae: p.bestValMae, bestEpoch: p.bestEpoch + 1, gate: p.gate, seconds: p.seconds };
        const now = Date.now();
        if (now - lastReport < 250 && p.epoch + 1 < p.epochs) return;
        lastReport = now;
        await opts.report(lastProgress);
      },
    },
  );

  await opts.report({ ...lastProgress, stage: 'saving' });
  const testRows = split.test;
  const testPred = testRows.length > 0 ? predictMixture(result.model, testRows.map((i) => inputs[i])) : new Float32Array();
  const trainingElements = [...new Set(split.train.flatMap((i) => Object.keys(resolveInput(rows[i].input as MaterialInput).composition)))].sort();
  const baseOf = (key: string, sha: string) => experts.find((b) => b.key === key && b.baseSha256 === sha)?.weights;
  const weights = serializeEnsemble([result.model], baseOf);
  // What is stored is what will be served: the bytes are loaded back exactly as the model service will load them.
  const { members, needsStructure } = loadModel(weights, baseOf);
  const metrics = {
    trainMae: result.trainMae, valMae: result.valMae, testMae: result.testMae, bestEpoch: result.bestEpoch, epochsRun: result.epochsRun,
    stoppedEarly: result.stoppedEarly, prepareSeconds: result.prepareSeconds, trainSeconds: result.trainSeconds, backend: opts.backend, members: 1,
    parity: { targets: testRows.map((i) => rows[i].target as number), predictions: Array.from(testPred) },
    trainingElements,
  };
  const summary = { valMae: result.valMae, testMae: result.testMae, bestEpoch: result.bestEpoch, epochsRun: result.epochsRun };
  const model: ModelRecord = await withTransaction(pool, async (client) => {
    const m = await insertModel(client, {
      owner: opts.owner, visibility: payload.visibility, name: payload.name, property: dataset.property, unit: dataset.unit, datasetId: dataset.id, splitId: split.id, jobId: opts.jobId,
      inputKinds: needsStructure ? ['structure', 'cif', 'poscar'] : ['formula', 'structure', 'cif', 'poscar'],
      config: result.model.config as unknown as Record<string, unknown>, experts: ensembleGate(members), metrics,
      weights, checksum: modelSha256(weights), shipped: false,
    });
    await completeJob(client, opts.jobId, { model: m.id, name: m.name, ...summary });
    return m;
  });
  return { model: model.id, name: model.name, ...summary };
}
