import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { JobRow } from '../../../db/job-queries.js';
import { problems } from '../../../http/problem.js';
import { JobRequest } from '../../../services/job-requests.js';
import { IdempotencyHeaders, JobIdParams, JobResponse, OutputQuery } from './schema.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

function present(job: JobRow) {
  return {
    id: job.id, type: job.type, state: job.state, payload: job.payload, progress: job.progress, result: job.result,
    error: job.error, attempts: job.attempts, backend: job.backend,
    createdAt: job.createdAt.toISOString(), updatedAt: job.updatedAt.toISOString(), startedAt: iso(job.startedAt), finishedAt: iso(job.finishedAt),
    links: { self: `/v1/jobs/${job.id}`, events: `/v1/jobs/${job.id}/events` },
  };
}

/** Jobs are visible only to the principal that submitted them: every route here needs an API key. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.requirePrincipal);

  app.post('/', {
    schema: {
      tags: ['jobs'],
      summary: 'Queue a job for the training workers (202 with Location; progress at /v1/jobs/{id} and /v1/jobs/{id}/events)',
      description: 'A request of the wrong shape is a 400; one that cannot work (unknown dataset or split, a taken model name, experts that cannot read the data) is a 404, 409 or 422, and nothing is queued.',
      security: [{ apiKey: [] }],
      headers: IdempotencyHeaders,
      body: JobRequest,
      response: { 200: JobResponse, 202: JobResponse, ...problems(400, 401, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const { job, created } = await app.jobs.submit(request.principal!, request.body, request.headers['idempotency-key']);
    return reply.code(created ? 202 : 200).header('location', `/v1/jobs/${job.id}`).send(present(job));
  });

  app.get('/:id', {
    schema: { tags: ['jobs'], summary: 'State, progress, result and timings of one of your jobs', security: [{ apiKey: [] }], params: JobIdParams, response: { 200: JobResponse, ...problems(400, 401, 404) } },
  }, async (request) => present(await app.jobs.get(request.principal!, request.params.id)));

  app.get('/:id/events', {
    schema: {
      tags: ['jobs'],
      summary: 'Server-Sent Events: the job as JSON on every change (event "job"), then event "end" once it is finished',
      security: [{ apiKey: [] }],
      params: JobIdParams,
      produces: ['text/event-stream'],
      response: { 200: Type.String({ description: 'text/event-stream', examples: ['event: job\ndata: {"id":"…","state":"active","progress":{"epoch":3}}\n\n'] }), ...problems(400, 401, 404) },
    },
  }, async (request, reply) => {
    const owner = request.principal!;
    const id = request.params.id;
    await app.jobs.get(owner, id);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
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
      if (TERMINAL.has(job.state)) {
        res.write('event: end\ndata: {}\n\n');
        finish();
      }
    };
    // Changes are read one at a time, in order, so the client never sees an older state after a newer one.
    const readAndSend = (): void => {
      reading = reading.then(async () => {
        if (done) return;
        send(await app.jobs.get(owner, id));
      }).catch((err: Error) => request.log.warn({ err: err.message }, 'job events read failed'));
    };
    const unsubscribe = app.jobs.watch(id, readAndSend);
    // A heartbeat keeps proxies from closing the stream and re-reads the row, so a missed notification cannot leave
    // the stream open after the job has ended.
    const heartbeat = setInterval(() => {
      res.write(': keep-alive\n\n');
      readAndSend();
    }, 15_000);
    request.raw.on('close', finish);
    // Read again after subscribing: a change between the existence check and the subscription is not lost.
    readAndSend();
  });

  app.get('/:id/output', {
    schema: {
      tags: ['jobs'],
      summary: 'The output of a completed batch-prediction job: one line (JSONL) or row (CSV) per input, with value, uncertainty and experts, or the row\'s error',
      security: [{ apiKey: [] }],
      params: JobIdParams,
      querystring: OutputQuery,
      produces: ['application/x-ndjson', 'text/csv'],
      response: { 200: Type.Unknown({ description: 'JSON lines or CSV, streamed' }), ...problems(400, 401, 404) },
    },
  }, async (request, reply) => {
    const format = request.query.format ?? 'jsonl';
    const { rows, stream } = await app.jobs.output(request.principal!, request.params.id, format);
    return reply
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="predictions-${request.params.id}.${format}"`)
      .header('x-row-count', String(rows))
      .send(stream);
  });

  app.delete('/:id', {
    schema: {
      tags: ['jobs'], summary: 'Cancel one of your queued or running jobs (a running job stops at its next progress step)', security: [{ apiKey: [] }],
      params: JobIdParams, response: { 200: JobResponse, ...problems(400, 401, 404, 409) },
    },
  }, async (request) => present(await app.jobs.cancel(request.principal!, request.params.id)));
};

export default routes;
