import { getDataset } from '../../db/dataset-queries.js';
import { modelNameTaken } from '../../db/model-queries.js';
import { getSplit } from '../../db/split-queries.js';
import { resolveFineTuneExperts, runFineTune, type FineTunePayload } from '../../services/fine-tune.js';
import { TrainingAborted } from '../../ml/mixture/trainer.js';
import { JobRejected, type JobDefinition } from '../job-types.js';
import { GATE_INITS } from '../../ml/mixture/config.js';

const MODES = ['mixture', 'pairwise', 'scratch'] as const;
const LOSSES = ['mse', 'l1'] as const;

/** Fine-tunes a mixture of experts on a stored dataset and split (the paper's protocol unless overridden). */
export const fineTuneJob: JobDefinition<FineTunePayload> = {
  type: 'fine-tune',
  parsePayload(raw) {
    const p = (raw ?? {}) as Record<string, unknown>;
    const str = (name: string): string => {
      const v = p[name];
      if (typeof v !== 'string' || v === '') throw new Error(`"${name}" is required for a fine-tune job`);
      return v;
    };
    const int = (name: string, d: number, lo: number, hi: number): number => {
      const v = p[name] ?? d;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`"${name}" must be a whole number from ${lo} to ${hi}`);
      return v;
    };
    const name = str('name');
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error('"name" may hold letters, digits, "_", "." and "-" (at most 100)');
    const experts = p.experts ?? 'all';
    if (experts !== 'all' && !(Array.isArray(experts) && experts.length > 0 && experts.every((e) => typeof e === 'string'))) {
      throw new Error('"experts" must be "all" or a non-empty list of expert keys');
    }
    const mode = (p.mode ?? 'mixture') as FineTunePayload['mode'];
    if (!MODES.includes(mode)) throw new Error(`"mode" must be one of ${MODES.join(', ')}`);
    const epochs = int('epochs', 1000, 1, 5000);
    // Left out, loss and gate start depend on the experts' kinds (trainingDefaults), known once they are resolved.
    const loss = p.loss as FineTunePayload['loss'];
    if (loss !== undefined && !LOSSES.includes(loss)) throw new Error(`"loss" must be one of ${LOSSES.join(', ')}`);
    const gateInit = p.gateInit as FineTunePayload['gateInit'];
    if (gateInit !== undefined && !GATE_INITS.includes(gateInit)) throw new Error(`"gateInit" must be one of ${GATE_INITS.join(', ')}`);
    return {
      dataset: str('dataset'), split: str('split'), name, mode, experts: experts as FineTunePayload['experts'],
      k: int('k', 2, 1, 64), epochs, patience: int('patience', Math.min(500, epochs), 0, 5000), seed: int('seed', 0, 0, 2 ** 31 - 1),
      batchSize: int('batchSize', 250, 1, 10_000), gateWarmup: int('gateWarmup', 0, 0, epochs),
      ...(loss !== undefined ? { loss } : {}), ...(gateInit !== undefined ? { gateInit } : {}),
    };
  },
  async admit(payload, { pool }) {
    const dataset = await getDataset(pool, payload.dataset);
    if (!dataset) throw new JobRejected('not_found', 'dataset_not_found', `there is no dataset ${payload.dataset}`);
    if (!(await getSplit(pool, payload.dataset, payload.split))) throw new JobRejected('not_found', 'split_not_found', `dataset ${payload.dataset} has no split ${payload.split}`);
    if (await modelNameTaken(pool, payload.name)) throw new JobRejected('conflict', 'model_name_taken', `a model named "${payload.name}" already exists; choose another name`);
    const experts = await resolveFineTuneExperts(pool, payload.experts, dataset.inputKinds, dataset.property);
    if (payload.mode !== 'mixture' && experts.length !== 1) throw new JobRejected('invalid', 'one_expert_required', `${payload.mode} training uses exactly one expert`);
    return { ...payload, experts };
  },
  async run(ctx) {
    try {
      return await runFineTune({ pool: ctx.pool, jobId: ctx.jobId, payload: ctx.payload, backend: ctx.backend, signal: ctx.signal, report: ctx.reportProgress });
    } catch (err) {
      // Training stops on the job's abort signal; the signal says why (cancelled or worker shutdown).
      if (err instanceof TrainingAborted && ctx.signal.aborted) throw ctx.signal.reason;
      throw err;
    }
  },
};
