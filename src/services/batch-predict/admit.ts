import { getDataset } from '../../db/dataset-queries.js';
import { getModel } from '../../db/model-queries.js';
import type { Pool } from '../../db/pool.js';
import { NotFoundError } from '../../errors.js';
import { DEFAULT_COVERAGE } from '../inference/prediction.js';
import type { BatchPredictPayload, BatchPredictRequest } from './request.js';

/** The model and dataset must be the submitter's or published; the model version is pinned now. */
export async function admitBatchPredict(pool: Pool, owner: string, request: BatchPredictRequest): Promise<BatchPredictPayload> {
  const model = await getModel(pool, owner, request.model);
  if (!model) throw new NotFoundError('model_not_found', `there is no model "${request.model}"; GET /v1/models lists them`);
  const dataset = await getDataset(pool, owner, request.dataset);
  if (!dataset) throw new NotFoundError('dataset_not_found', `there is no dataset ${request.dataset}`);
  return { type: 'batch-predict', model: model.id, modelName: model.name, checksum: model.checksum, dataset: dataset.id, coverage: request.coverage ?? DEFAULT_COVERAGE };
}
