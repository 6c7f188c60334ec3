import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { cancelJob, getJob, getJobByIdempotencyKey, type JobRow } from '../../../db/job-queries.js';
import { HttpProblem, problems } from '../../../http/problem.js';
import { enqueueJob } from '../../../queue/queues.js';
import { JobRejected } from '../../../queue/job-types.js';
import { jobDefinition } from '../../../queue/registry.js';

const REJECTION_STATUS = { not_found: 404, conflict: 409, invalid: 422 } as const;
import { CreateJobBody, JobIdParams, JobResponse } from './schema.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function present(job: JobRow) {
  return {
    id: job.id, type: job.type, state: job.state, payload: job.payload, progress: job.progress, result: job.result,
    error: job.error, attempts: job.attempts, backend: job.backend,
    createdAt: job.createdAt.toISOString(), updatedAt: job.updatedAt.toISOString(), startedAt: iso(job.startedAt), finishedAt: iso(job.finishedAt),
    links: { self: `/v1/jobs/${job.id}` },
  };
}

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'repeat a POST safely: the same key returns the same job' })),
});

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/', {
    onRequest: app.requireApiKey,
    schema: {
      tags: ['jobs'],
      summary: 'Queue a job for the training workers (202 with Location; progress at /v1/jobs/{id} and /v1/jobs/{id}/events)',
      security: [{ apiKey: [] }],
      headers: IdempotencyHeaders,
      body: CreateJobBody,
      response: { 200: JobResponse, 202: JobResponse, ...problems(400, 401, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (key) {
      const existing = await getJobByIdempotencyKey(app.pg, key);
      if (existing) return reply.code(200).header('location', `/v1/jobs/${existing.id}`).send(present(existing));
    }
    const { type, ...rest } = request.body;
    const def = jobDefinition(type);
    if (!def) throw new HttpProblem(422, 'unknown_job_type', `there is no job type "${type}"`);
    let payload: unknown;
    try {
      payload = def.parsePayload(rest);
    } catch (err) {
      throw new HttpProblem(422, 'invalid_job', (err as Error).message);
    }
    if (def.admit) {
      try {
        payload = await def.admit(payload, { pool: app.pg });
      } catch (err) {
        if (err instanceof JobRejected) throw new HttpProblem(REJECTION_STATUS[err.reason], err.code, err.message);
        throw err;
      }
    }
    let job: JobRow;
    try {
      job = await enqueueJob(app.pg, app.trainingQueue, type, payload as Record<string, unknown>, { idempotencyKey: key });
    } catch (err) {
      // Two identical requests racing on the same Idempotency-Key: the loser returns the winner's job.
      if ((err as { code?: string }).code === '23505' && key) {
        const existing = await getJobByIdempotencyKey(app.pg, key);
        if (existing) return reply.code(200).header('location', `/v1/jobs/${existing.id}`).send(present(existing));
      }
      throw err;
    }
    return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(present(job));
  });

  app.get('/:id', {
    schema: { tags: ['jobs'], summary: 'State, progress, result and timings of a job', params: JobIdParams, response: { 200: JobResponse, ...problems(400, 404) } },
  }, async (request) => {
    const job = await getJob(app.pg, request.params.id);
    if (!job) throw new HttpProblem(404, 'job_not_found', `there is no job ${request.params.id}`);
    return present(job);
  });

  app.get('/:id/events', {
    schema: {
      tags: ['jobs'],
      summary: 'Server-Sent Events: the job as JSON on every change (event "job"), then event "end" once it is finished',
      params: JobIdParams,
      produces: ['text/event-stream'],
      response: { 200: Type.String({ description: 'text/event-stream', examples: ['event: job\ndata: {"id":"…","state":"active","progress":{"epoch":3}}\n\n'] }), ...problems(400, 404) },
    },
  }, async (request, reply) => {
    const id = request.params.id;
    if (!(await getJob(app.pg, id))) throw new HttpProblem(404, 'job_not_found', `there is no job ${id}`);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const terminal = new Set(['completed', 'failed', 'cancelled']);
    let lastSent = '';
    let done = false;
    let reading = Promise.resolve();
    const finish = (): void => {
      if (done) return;
      done = true;
      unsubscribe();
      clearInterval(heartbeat);
      res.end();
    };
    const send = (job: JobRow): void => {
      const body = JSON.stringify(present(job));
      if (body !== lastSent) {
        lastSent = body;
        res.write(`event: job\nid: ${job.updatedAt.getTime()}\ndata: ${body}\n\n`);
      }
      if (terminal.has(job.state)) {
        res.write('event: end\ndata: {}\n\n');
        finish();
      }
    };
    // Changes are read one at a time, in order, so the client never sees an older state after a newer one.
    const readAndSend = (): void => {
      reading = reading.then(async () => {
        if (done) return;
        const job = await getJob(app.pg, id);
        if (job) send(job);
      }).catch((err: Error) => request.log.warn({ err: err.message }, 'job events read failed'));
    };
    const unsubscribe = app.jobEvents.subscribe(id, readAndSend);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    request.raw.on('close', finish);
    // Read again after subscribing: a change between the existence check and the subscription is not lost.
    readAndSend();
  });

  app.delete('/:id', {
    onRequest: app.requireApiKey,
    schema: {
      tags: ['jobs'], summary: 'Cancel a queued or running job (a running job stops at its next progress step)', security: [{ apiKey: [] }],
      params: JobIdParams, response: { 200: JobResponse, ...problems(400, 401, 404, 409) },
    },
  }, async (request) => {
    const cancelled = await cancelJob(app.pg, request.params.id);
    if (cancelled) {
      await app.trainingQueue.remove(cancelled.id).catch(() => 0);
      return present(cancelled);
    }
    const job = await getJob(app.pg, request.params.id);
    if (!job) throw new HttpProblem(404, 'job_not_found', `there is no job ${request.params.id}`);
    throw new HttpProblem(409, 'job_finished', `job ${job.id} is already ${job.state}`);
  });
};

export default routes;
