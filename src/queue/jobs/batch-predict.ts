import { BatchPredictPayload } from '../../services/batch-predict/request.js';
import { runBatchPredict } from '../../services/batch-predict/run.js';
import type { JobDefinition } from '../job-types.js';

/** Predicts every row of a dataset with a pinned model version; the output is stored with the job. */
export const batchPredictJob: JobDefinition<typeof BatchPredictPayload> = {
  type: 'batch-predict',
  payload: BatchPredictPayload,
  run: (ctx) => runBatchPredict({ pool: ctx.pool, jobId: ctx.jobId, owner: ctx.owner, payload: ctx.payload, report: ctx.reportProgress }),
};
