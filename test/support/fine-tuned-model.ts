import { getModel, getModelWeights, insertModel, type ModelRecord } from '../../src/db/model-queries.js';
import type { Queryable } from '../../src/db/pool.js';

/**
 * A fine-tuned model made cheaply: the weights and card of a shipped model stored as a private model of `owner`,
 * trained (so the row says) on `datasetId`/`splitId`. It predicts like the shipped one.
 */
export async function insertFineTunedModel(db: Queryable, opts: { owner: string; name: string; datasetId: string; splitId: string; from?: string }): Promise<ModelRecord> {
  const shipped = await getModel(db, null, opts.from ?? 'expt_bandgap');
  const blob = shipped && await getModelWeights(db, shipped.id);
  if (!shipped || !blob) throw new Error(`no shipped model ${opts.from ?? 'expt_bandgap'}`);
  return insertModel(db, {
    owner: opts.owner, visibility: 'private', name: opts.name, property: shipped.property, unit: shipped.unit, datasetId: opts.datasetId, splitId: opts.splitId, jobId: null,
    inputKinds: shipped.inputKinds, config: shipped.config, experts: shipped.experts, metrics: shipped.metrics, checksum: blob.checksum, shipped: false, weights: blob.weights,
  });
}
