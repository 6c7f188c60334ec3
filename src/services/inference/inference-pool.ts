/**
 * The API thread's side of inference: a piscina pool of inference threads (inference-thread.ts) behind one dynamic
 * batcher per model version (and per expert). The event loop only hands inputs over and answers: a request's problems
 * come back as a 422 naming each input, a request over its compute budget as a 413 saying how to split it.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { MaterialInput } from '../../chem/input-schema.js';
import { InvalidInputsError } from '../../chem/resolve-inputs.js';
import { AppError } from '../../errors.js';
import { Batcher } from './batcher.js';
import type { ExpertPrediction, GroupResult, InferenceResult, InferenceTask, MaterialPrediction, ThreadConfig } from './protocol.js';

export interface InferencePoolOptions extends ThreadConfig {
  /** Inference threads (default: the number of cores). */
  threads?: number;
  /** Inputs gathered into one batch at most, and how long a request may wait for others (ms). */
  maxBatch: number;
  maxWaitMs: number;
  /** Inputs × sites one request may ask for. */
  maxSites: number;
}

const THREAD = new URL(import.meta.url.endsWith('.ts') ? './inference-thread.ts' : './inference-thread.js', import.meta.url);

export class ComputeBudgetError extends AppError {
  constructor(b: { sites: number; inputs: number; maxSites: number }) {
    const parts = Math.ceil(b.sites / b.maxSites);
    super(413, 'compute_budget_exceeded',
      `this request asks for ${b.inputs} inputs with ${b.sites} sites in all; one request may hold at most ${b.maxSites} sites (a formula counts one). ` +
      `Split it into ${parts} requests, or screen large sets with a batch-prediction job (POST /v1/jobs with "type": "batch-predict").`,
      { sites: b.sites, inputs: b.inputs, maxSites: b.maxSites });
  }
}

function unwrap<P>(r: GroupResult<P>): P[] {
  if (r.ok) return r.predictions;
  if ('budget' in r) throw new ComputeBudgetError(r.budget);
  throw new InvalidInputsError(r.problems);
}

export class InferencePool {
  private readonly piscina: Piscina;
  private readonly models: Batcher<MaterialInput, GroupResult<MaterialPrediction>>;
  private readonly experts: Batcher<MaterialInput, GroupResult<ExpertPrediction>>;
  private readonly maxBatch: number;
  private readonly maxSites: number;

  constructor(opts: InferencePoolOptions) {
    const threads = opts.threads && opts.threads > 0 ? opts.threads : availableParallelism();
    const workerData: ThreadConfig = { databaseUrl: opts.databaseUrl, tfjsBackend: opts.tfjsBackend };
    this.piscina = new Piscina({ filename: THREAD.href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, workerData });
    this.maxBatch = opts.maxBatch;
    this.maxSites = opts.maxSites;
    const budget = { maxSites: opts.maxSites };
    // One batch per thread at a time: while all are busy, requests gather into the next batches.
    const batch = { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs, maxInFlight: threads };
    this.models = new Batcher((key, groups) => {
      const [modelId, checksum, coverage] = key.split(':');
      return this.run<MaterialPrediction>({ kind: 'model', modelId, checksum, coverage: Number(coverage), budget, groups });
    }, batch);
    this.experts = new Batcher((key, groups) => this.run<ExpertPrediction>({ kind: 'expert', key, budget, groups }), batch);
  }

  private async run<P>(task: InferenceTask): Promise<GroupResult<P>[]> {
    return ((await this.piscina.run(task)) as InferenceResult<P>).groups;
  }

  /**
   * A request of formulas larger than a batch is split across threads: a formula counts one site, so its parts cannot
   * exceed a budget the whole fits in (a request holds at most 1000 inputs). Anything with structures stays whole, so
   * its thread counts its sites against the budget before computing.
   */
  async predictModel(modelId: string, checksum: string, inputs: MaterialInput[], coverage: number): Promise<MaterialPrediction[]> {
    // Requests asking for another coverage are batched apart: a batch is answered at one coverage.
    const key = `${modelId}:${checksum}:${coverage}`;
    const formulasOnly = inputs.every((i) => typeof i.formula === 'string' && Object.keys(i).length === 1);
    if (!formulasOnly || inputs.length <= this.maxBatch || inputs.length > this.maxSites) return unwrap(await this.models.submit(key, inputs));
    const parts: MaterialInput[][] = [];
    for (let at = 0; at < inputs.length; at += this.maxBatch) parts.push(inputs.slice(at, at + this.maxBatch));
    const results = await Promise.all(parts.map((part) => this.models.submit(key, part)));
    const problems = results.flatMap((r, p) => (!r.ok && 'problems' in r ? r.problems.map((x) => ({ ...x, index: x.index + p * this.maxBatch })) : []));
    if (problems.length > 0) throw new InvalidInputsError(problems);
    return results.flatMap((r) => unwrap(r));
  }

  async predictExpert(key: string, inputs: MaterialInput[]): Promise<ExpertPrediction[]> {
    return unwrap(await this.experts.submit(key, inputs));
  }

  /** Work waiting: inputs gathered for a batch plus batches queued for a thread. What load shedding looks at. */
  get backlog(): number {
    return this.models.pendingInputs + this.experts.pendingInputs + this.piscina.queueSize;
  }

  /** Batches run and requests answered, for models and experts. */
  get stats(): { batches: number; requests: number } {
    return { batches: this.models.stats.batches + this.experts.stats.batches, requests: this.models.stats.requests + this.experts.stats.requests };
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
