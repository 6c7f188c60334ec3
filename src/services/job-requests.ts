/**
 * What a client may ask the workers to do, one schema per job type, discriminated by `type`. POST /v1/jobs validates
 * its body against `JobRequest` (400 for a shape error); the job service admits a request against the database
 * (404/409/422) and turns it into the payload that is queued.
 */
import { Type, type Static } from 'typebox';
import { BatchPredictRequest } from './batch-predict/request.js';
import { FineTuneRequest } from './fine-tune/request.js';

export const JobRequest = Type.Union([FineTuneRequest, BatchPredictRequest], {
  description: 'a job request; `type` says which: fine-tune (train a model on a dataset split) or batch-predict (screen a dataset with a model)',
  examples: [{ type: 'fine-tune', dataset: '5d0c6b2a-1f3e-4a7b-9c8d-0e1f2a3b4c5d', split: '7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b', experts: 'all', epochs: 300, patience: 100, name: 'my-2d-gaps' }],
});
export type JobRequest = Static<typeof JobRequest>;
