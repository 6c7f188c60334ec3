import { TrainingAborted } from '../../ml/mixture/trainer.js';
import { FineTunePayload } from '../../services/fine-tune/request.js';
import { runFineTune } from '../../services/fine-tune/run.js';
import type { JobDefinition } from '../job-types.js';

/** Fine-tunes a mixture of experts on a stored dataset and split, as admitted by the job service. */
export const fineTuneJob: JobDefinition<typeof FineTunePayload> = {
  type: 'fine-tune',
  payload: FineTunePayload,
  async run(ctx) {
    try {
      return await runFineTune({ pool: ctx.pool, jobId: ctx.jobId, owner: ctx.owner, payload: ctx.payload, backend: ctx.backend, training: ctx.training, signal: ctx.signal, report: ctx.reportProgress });
    } catch (err) {
      // Training stops on the job's abort signal; the signal says why (cancelled or worker shutdown).
      if (err instanceof TrainingAborted && ctx.signal.aborted) throw ctx.signal.reason;
      throw err;
    }
  },
};
