/**
 * Runs a queued batch prediction in a worker process: the dataset's rows in pages, each page one batch through the
 * compiled model (a row the model cannot read gets its error in the output instead of failing the job), progress as
 * rows done, and the output — gzipped JSON lines — stored with the job's completion in one transaction.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type pg from 'pg';
import type { MaterialInput } from '../../chem/input-schema.js';
import { getDataset, getDatasetRows } from '../../db/dataset-queries.js';
import { completeJob, insertJobOutput } from '../../db/job-queries.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { loadAllShippedExperts } from '../../ml/experts/registry.js';
import type { BaseWeights } from '../../ml/stored-model.js';
import { ModelRuntime } from '../inference/model-runtime.js';
import type { MaterialPrediction } from '../inference/prediction.js';
import type { BatchPredictPayload } from './request.js';

const PAGE = 512;
/** A job is not held to a request's compute budget. */
const NO_BUDGET = { maxSites: Number.MAX_SAFE_INTEGER };

export interface BatchRow {
  index: number;
  id?: string;
  target?: number;
  prediction?: MaterialPrediction;
  error?: { code: string; message: string };
}

let runtime: Promise<ModelRuntime> | undefined;

/** One runtime per worker process: the shipped experts are read once. */
function runtimeFor(pool: Pool): Promise<ModelRuntime> {
  runtime ??= loadAllShippedExperts().then((experts) => {
    const byKey = new Map(experts.map((e) => [e.key, e]));
    const base: BaseWeights = (key, sha) => {
      const e = byKey.get(key);
      return e && e.baseSha256 === sha ? e.weights : undefined;
    };
    return new ModelRuntime(pool as pg.Pool, base);
  });
  return runtime;
}

export async function runBatchPredict(opts: {
  pool: Pool;
  jobId: string;
  owner: string;
  payload: BatchPredictPayload;
  report(progress: Record<string, unknown>): Promise<void>;
}): Promise<Record<string, unknown>> {
  const { pool, payload } = opts;
  const dataset = await getDataset(pool, opts.owner, payload.dataset);
  if (!dataset) throw new Error(`dataset ${payload.dataset} no longer exists`);
  const models = await runtimeFor(pool);
  const lines: string[] = [];
  let failed = 0;
  let lastReport = 0;
  for (let offset = 0; offset < dataset.nRows; offset += PAGE) {
    const rows = await getDatasetRows(pool, dataset.id, PAGE, offset);
    // Each row is its own group, so a row's problem stays with that row while the page runs as one batch.
    const results = await models.run({ kind: 'model', modelId: payload.model, checksum: payload.checksum, coverage: payload.coverage, budget: NO_BUDGET, groups: rows.map((r) => [r.input as MaterialInput]) });
    rows.forEach((r, i) => {
      const res = results[i];
      const row: BatchRow = { index: r.index, ...(r.externalId !== null ? { id: r.externalId } : {}), ...(r.target !== null ? { target: r.target } : {}) };
      if (res.ok) row.prediction = res.predictions[0];
      else {
        failed++;
        row.error = 'problems' in res ? { code: res.problems[0].code, message: res.problems[0].message } : { code: 'compute_budget_exceeded', message: 'too large' };
      }
      lines.push(JSON.stringify(row));
    });
    const done = Math.min(dataset.nRows, offset + rows.length);
    if (Date.now() - lastReport > 250 || done === dataset.nRows) {
      lastReport = Date.now();
      await opts.report({ stage: 'predicting', done, total: dataset.nRows, failed });
    }
  }
  const bytes = await promisify(gzip)(Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : ''));
  const result = { model: payload.model, modelName: payload.modelName, dataset: dataset.id, rows: lines.length, failedRows: failed, output: `/v1/jobs/${opts.jobId}/output` };
  await withTransaction(pool, async (client) => {
    await insertJobOutput(client, opts.jobId, { mediaType: 'application/x-ndjson', rows: lines.length, bytes });
    await completeJob(client, opts.jobId, result);
  });
  return result;
}
