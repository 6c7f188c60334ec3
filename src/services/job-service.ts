/**
 * Jobs as a client meets them: submitted once (an Idempotency-Key makes a retry safe, and the same key with another
 * request is refused), admitted against the database before anything is queued, read, followed and cancelled by the
 * principal that submitted them and by no one else.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { cancelJob, getJobByIdempotencyKey, getJobOutput, getOwnedJob, type JobRow } from '../db/job-queries.js';
import type { Readable } from 'node:stream';
import { outputStream, type OutputFormat } from './batch-predict/output.js';
import type { Pool } from '../db/pool.js';
import { ConflictError, NotFoundError, UnprocessableError } from '../errors.js';
import { enqueueJob } from '../queue/queues.js';
import { canonicalJson } from './datasets/content.js';
import { admitBatchPredict } from './batch-predict/admit.js';
import { admitFineTune } from './fine-tune/admit.js';
import type { JobRequest } from './job-requests.js';
import type { JobEvents } from './job-events.js';

const notFound = (id: string) => new NotFoundError('job_not_found', `there is no job ${id}`);

export class JobService {
  constructor(private readonly pool: Pool, private readonly queue: Queue, private readonly events: JobEvents, private readonly log?: { warn(o: object, m: string): void }) {}

  /** `created` is false when the Idempotency-Key names a job submitted before with the same request. */
  async submit(owner: string, request: JobRequest, idempotencyKey?: string): Promise<{ job: JobRow; created: boolean }> {
    const requestHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
    if (idempotencyKey !== undefined) {
      const existing = await this.replay(owner, idempotencyKey, requestHash);
      if (existing) return { job: existing, created: false };
    }
    const id = randomUUID();
    const payload = request.type === 'fine-tune' ? await admitFineTune(this.pool, owner, request, id) : await admitBatchPredict(this.pool, owner, request);
    try {
      const { row, queued } = await enqueueJob(this.pool, this.queue, { id, owner, type: request.type, payload, idempotencyKey, requestHash });
      if (!queued) this.log?.warn({ jobId: id }, 'Redis did not take the job; the reconciler will queue it when Redis is back');
      return { job: row, created: true };
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      // Two requests racing: on the same Idempotency-Key the loser answers with the winner's job; on the same model
      // name the loser is refused, as if it had come second.
      const existing = idempotencyKey !== undefined ? await this.replay(owner, idempotencyKey, requestHash) : undefined;
      if (existing) return { job: existing, created: false };
      const name = 'name' in payload ? payload.name : '';
      throw new ConflictError('model_name_taken', `a model named "${name}" is already being trained by a queued or running job; choose another name`);
    }
  }

  private async replay(owner: string, key: string, requestHash: string): Promise<JobRow | undefined> {
    const existing = await getJobByIdempotencyKey(this.pool, owner, key);
    if (existing && existing.requestHash !== requestHash) {
      throw new UnprocessableError('idempotency_key_reused', `the Idempotency-Key "${key}" was used for another request (job ${existing.id}); use a new key for a new request`, { job: existing.id });
    }
    return existing;
  }

  async get(owner: string, id: string): Promise<JobRow> {
    const job = await getOwnedJob(this.pool, owner, id);
    if (!job) throw notFound(id);
    return job;
  }

  /** A queued job never starts; a running one stops at its next progress step (the worker sees the row). */
  async cancel(owner: string, id: string): Promise<JobRow> {
    const cancelled = await cancelJob(this.pool, owner, id);
    if (cancelled) {
      await this.queue.remove(cancelled.id).catch(() => 0);
      return cancelled;
    }
    const job = await this.get(owner, id);
    throw new ConflictError('job_finished', `job ${job.id} is already ${job.state}`);
  }

  /** What a completed batch-prediction job produced, as JSON lines or CSV (404 while there is none). */
  async output(owner: string, id: string, format: OutputFormat): Promise<{ rows: number; stream: Readable }> {
    const job = await this.get(owner, id);
    const out = await getJobOutput(this.pool, owner, job.id);
    if (!out) {
      throw new NotFoundError('job_output_not_found', job.type === 'batch-predict'
        ? `job ${job.id} is ${job.state}; its output is there once it has completed`
        : `job ${job.id} is a ${job.type} job, which has no output to download (its result is in the job)`);
    }
    return { rows: out.rows, stream: outputStream(out.bytes, format) };
  }

  /** Calls `listener` whenever the job changes; returns the unsubscribe function. */
  watch(id: string, listener: () => void): () => void {
    return this.events.subscribe(id, listener);
  }
}
