/**
 * The authorization matrix (issue 14, part 7): principal (the owner "default", another principal "bob", anonymous,
 * an invalid key) × resource (dataset, split, job, fine-tuned model, shipped model, expert) × verb, every cell
 * asserted; then the same data published: others read and predict but cannot modify or delete, and may fine-tune
 * on it, which gives them their own job and model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino } from 'pino';
import { getModel } from '../../src/db/model-queries.js';
import { createRedis } from '../../src/queue/connection.js';
import { startJobRunner } from '../../src/queue/job-runner.js';
import { auth, bobAuth, build, tinyDataset } from '../helper.js';
import { insertFineTunedModel } from '../support/fine-tuned-model.js';
import { assertProblem } from '../support/problems.js';

type Who = 'owner' | 'other' | 'anonymous' | 'invalid';
/** Owners last: where a verb changes something, every refusal is checked before the owner's call succeeds. */
const PRINCIPALS: readonly Who[] = ['invalid', 'anonymous', 'other', 'owner'];
const HEADERS: Record<Who, Record<string, string>> = { owner: auth, other: bobAuth, anonymous: {}, invalid: { authorization: 'Bearer not-a-configured-key' } };

interface Cell {
  resource: string;
  verb: string;
  request: Omit<InjectOptions, 'headers'>;
  expect: Record<Who, number>;
  /** Checks a 2xx body further (lists: whose items are shown). */
  check?: (who: Who, body: string) => void;
}

/** Anyone with a valid key or none may read; an invalid key is refused everywhere. */
const PUBLIC = { owner: 200, other: 200, anonymous: 200, invalid: 401 } as const;
/** Only the owner reads; another principal and anonymous readers cannot tell it exists. */
const PRIVATE_READ = { owner: 200, other: 404, anonymous: 404, invalid: 401 } as const;
/** A write: needs a key (401) and ownership (404). */
const OWNER_WRITE = (owner: number) => ({ owner, other: 404, anonymous: 401, invalid: 401 });

async function runCells(app: FastifyInstance, cells: readonly Cell[]): Promise<void> {
  for (const cell of cells) {
    for (const who of PRINCIPALS) {
      const res = await app.inject({ ...cell.request, headers: { ...HEADERS[who], ...(cell.request.payload !== undefined ? { 'content-type': 'application/json' } : {}) } });
      const where = `${cell.resource} ${cell.verb} as ${who} (${cell.request.method ?? 'GET'} ${cell.request.url})`;
      assert.equal(res.statusCode, cell.expect[who], `${where}: ${res.body.slice(0, 300)}`);
      if (res.statusCode >= 400) {
        const problem = assertProblem(res, cell.expect[who]);
        if (res.statusCode === 401) assert.equal(problem.code, 'unauthorized', where);
        if (res.statusCode === 404) assert.match(problem.code, /_not_found$/, where);
      } else {
        cell.check?.(who, res.body);
      }
    }
  }
}

/** A list check: `id` is listed for exactly the principals in `seenBy`. */
const listed = (id: () => string, seenBy: readonly Who[], key: 'id' | 'key' = 'id') => (who: Who, body: string) => {
  const items = (JSON.parse(body) as { items: Record<string, unknown>[] }).items;
  assert.equal(items.some((i) => i[key] === id()), seenBy.includes(who), `${id()} listed for ${who}: ${seenBy.includes(who)}`);
};

test('authorization matrix', async (t) => {
  const app = await build(t);
  const { dataset, split } = await tinyDataset(app, 'owner gaps');
  const spareRows = [{ formula: 'GaAs', target: 1 }, { formula: 'Si', target: 2 }];
  const spare = (await app.inject({ method: 'POST', url: '/v1/datasets', headers: auth, payload: { name: 'spare', property: 'p', unit: '', rows: spareRows } })).json().id as string;

  // A fine-tuned model of the owner, made cheaply: the shipped expt_bandgap weights under the owner's name.
  const shipped = (await getModel(app.pg, null, 'expt_bandgap'))!;
  const model = await insertFineTunedModel(app.pg, { owner: 'default', name: 'owner-gaps', datasetId: dataset, splitId: split });
  const jobRequest = { type: 'fine-tune', dataset, split, experts: ['comp_mp_e_form'], epochs: 2, patience: 2 };
  const submitted = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: jobRequest });
  assert.equal(submitted.statusCode, 202, submitted.body);
  const job = submitted.json().id as string;
  const expert = 'comp_mp_e_form';
  const predict = { inputs: [{ formula: 'GaAs' }] };

  await t.test('private data: every principal × resource × verb', async () => {
    await runCells(app, [
      { resource: 'dataset', verb: 'list', request: { url: '/v1/datasets' }, expect: PUBLIC, check: listed(() => dataset, ['owner']) },
      { resource: 'dataset', verb: 'get', request: { url: `/v1/datasets/${dataset}?rowsLimit=0` }, expect: PRIVATE_READ },
      { resource: 'dataset', verb: 'rows', request: { url: `/v1/datasets/${dataset}?rowsLimit=3&rowsOffset=2` }, expect: PRIVATE_READ,
        check: (_, body) => assert.deepEqual(JSON.parse(body).rows.items.map((r: { index: number }) => r.index), [2, 3, 4]) },
      { resource: 'dataset', verb: 'create split', request: { method: 'POST', url: `/v1/datasets/${dataset}/splits`, payload: { seed: 7 } }, expect: OWNER_WRITE(201) },
      { resource: 'dataset', verb: 'patch visibility', request: { method: 'PATCH', url: `/v1/datasets/${dataset}`, payload: { visibility: 'private' } }, expect: OWNER_WRITE(200) },
      // The owner's dataset is in use by the model and the queued job (409); an unused one is deleted (204).
      { resource: 'dataset', verb: 'delete (in use)', request: { method: 'DELETE', url: `/v1/datasets/${dataset}` }, expect: OWNER_WRITE(409) },
      { resource: 'dataset', verb: 'delete', request: { method: 'DELETE', url: `/v1/datasets/${spare}` }, expect: OWNER_WRITE(204) },
      { resource: 'split', verb: 'list', request: { url: `/v1/datasets/${dataset}/splits` }, expect: PRIVATE_READ, check: listed(() => split, ['owner']) },
      { resource: 'split', verb: 'get', request: { url: `/v1/datasets/${dataset}/splits/${split}` }, expect: PRIVATE_READ },
      { resource: 'job', verb: 'create', request: { method: 'POST', url: '/v1/jobs', payload: { ...jobRequest, name: 'second-owner-job' } }, expect: OWNER_WRITE(202) },
      { resource: 'job', verb: 'get', request: { url: `/v1/jobs/${job}` }, expect: { owner: 200, other: 404, anonymous: 401, invalid: 401 } },
      { resource: 'job', verb: 'cancel', request: { method: 'DELETE', url: `/v1/jobs/${job}` }, expect: OWNER_WRITE(200) },
      // Cancelled, so the owner's event stream ends at once.
      { resource: 'job', verb: 'events', request: { url: `/v1/jobs/${job}/events` }, expect: { owner: 200, other: 404, anonymous: 401, invalid: 401 },
        check: (_, body) => assert.match(body, /"state":"cancelled"[\s\S]*event: end/) },
      { resource: 'fine-tuned model', verb: 'list', request: { url: '/v1/models?limit=100' }, expect: PUBLIC, check: listed(() => model.id, ['owner']) },
      { resource: 'fine-tuned model', verb: 'get (id)', request: { url: `/v1/models/${model.id}` }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'get (name)', request: { url: '/v1/models/owner-gaps' }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'predict', request: { method: 'POST', url: `/v1/models/${model.id}/predict`, payload: predict }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'predict (/v1/predict)', request: { method: 'POST', url: '/v1/predict', payload: { model: 'owner-gaps', ...predict } }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'parity plot', request: { url: `/v1/models/${model.id}/parity.svg` }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'gates plot', request: { url: `/v1/models/${model.id}/gates.svg` }, expect: PRIVATE_READ },
      { resource: 'fine-tuned model', verb: 'patch visibility', request: { method: 'PATCH', url: `/v1/models/${model.id}`, payload: { visibility: 'private' } }, expect: OWNER_WRITE(200) },
      { resource: 'shipped model', verb: 'list', request: { url: '/v1/models?limit=100' }, expect: PUBLIC, check: listed(() => shipped.id, ['owner', 'other', 'anonymous']) },
      { resource: 'shipped model', verb: 'get', request: { url: '/v1/models/expt_bandgap' }, expect: PUBLIC },
      { resource: 'shipped model', verb: 'predict', request: { method: 'POST', url: '/v1/models/expt_bandgap/predict', payload: predict }, expect: PUBLIC },
      { resource: 'shipped model', verb: 'parity plot', request: { url: '/v1/models/expt_bandgap/parity.svg' }, expect: PUBLIC },
      { resource: 'shipped model', verb: 'gates plot', request: { url: '/v1/models/expt_bandgap/gates.svg' }, expect: PUBLIC },
      // Shipped models belong to the service: nobody changes their visibility.
      { resource: 'shipped model', verb: 'patch visibility', request: { method: 'PATCH', url: '/v1/models/expt_bandgap', payload: { visibility: 'private' } }, expect: OWNER_WRITE(404) },
      { resource: 'expert', verb: 'list', request: { url: '/v1/experts' }, expect: PUBLIC, check: listed(() => expert, ['owner', 'other', 'anonymous'], 'key') },
      { resource: 'expert', verb: 'get', request: { url: `/v1/experts/${expert}` }, expect: PUBLIC },
      { resource: 'expert', verb: 'predict', request: { method: 'POST', url: `/v1/experts/${expert}/predict`, payload: predict }, expect: PUBLIC },
    ]);
  });

  await t.test('published data: others read and predict, but cannot modify or delete', async () => {
    for (const url of [`/v1/datasets/${dataset}`, `/v1/models/${model.id}`]) {
      const res = await app.inject({ method: 'PATCH', url, headers: auth, payload: { visibility: 'public' } });
      assert.equal(res.json().visibility, 'public', res.body);
    }
    const READ = { owner: 200, other: 200, anonymous: 200, invalid: 401 };
    const mine = (owner: boolean) => (who: Who, body: string) => assert.equal(JSON.parse(body).mine, owner && who === 'owner');
    await runCells(app, [
      { resource: 'dataset', verb: 'list', request: { url: '/v1/datasets' }, expect: READ, check: listed(() => dataset, ['owner', 'other', 'anonymous']) },
      { resource: 'dataset', verb: 'get', request: { url: `/v1/datasets/${dataset}?rowsLimit=2` }, expect: READ, check: mine(true) },
      { resource: 'split', verb: 'get', request: { url: `/v1/datasets/${dataset}/splits/${split}` }, expect: READ },
      { resource: 'fine-tuned model', verb: 'list', request: { url: '/v1/models?limit=100' }, expect: READ, check: listed(() => model.id, ['owner', 'other', 'anonymous']) },
      { resource: 'fine-tuned model', verb: 'get', request: { url: '/v1/models/owner-gaps' }, expect: READ, check: mine(true) },
      { resource: 'fine-tuned model', verb: 'predict', request: { method: 'POST', url: '/v1/predict', payload: { model: model.id, ...predict } }, expect: READ },
      { resource: 'fine-tuned model', verb: 'parity plot', request: { url: `/v1/models/${model.id}/parity.svg` }, expect: READ },
      { resource: 'dataset', verb: 'patch visibility', request: { method: 'PATCH', url: `/v1/datasets/${dataset}`, payload: { visibility: 'public' } }, expect: OWNER_WRITE(200) },
      { resource: 'dataset', verb: 'delete', request: { method: 'DELETE', url: `/v1/datasets/${dataset}` }, expect: OWNER_WRITE(409) },
      { resource: 'fine-tuned model', verb: 'patch visibility', request: { method: 'PATCH', url: `/v1/models/${model.id}`, payload: { visibility: 'public' } }, expect: OWNER_WRITE(200) },
    ]);
  });

  await t.test('another principal fine-tunes on a public dataset: the job and the model are theirs', async () => {
    const connection = createRedis(app.config.redisUrl);
    const runner = startJobRunner({ pool: app.pg, connection, prefix: app.config.queuePrefix, concurrency: 1, backend: 'wasm', logger: pino({ level: 'silent' }) });
    t.after(async () => {
      await runner.shutdown(5000);
      connection.disconnect();
    });
    const bobSplit = await app.inject({ method: 'POST', url: `/v1/datasets/${dataset}/splits`, headers: bobAuth, payload: { seed: 3 } });
    assert.equal(bobSplit.statusCode, 201, bobSplit.body);
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: bobAuth, payload: { ...jobRequest, split: bobSplit.json().id, name: 'bob-gaps' } });
    assert.equal(res.statusCode, 202, res.body);
    const bobJob = res.json().id as string;
    assertProblem(await app.inject({ url: `/v1/jobs/${bobJob}`, headers: auth }), 404, 'job_not_found');
    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/jobs/${bobJob}`, headers: auth }), 404, 'job_not_found');
    let state = '';
    for (let i = 0; i < 1200 && !['completed', 'failed', 'cancelled'].includes(state); i++) {
      state = (await app.inject({ url: `/v1/jobs/${bobJob}`, headers: bobAuth })).json().state;
      if (state !== 'completed') await new Promise((r) => setTimeout(r, 100));
    }
    const done = (await app.inject({ url: `/v1/jobs/${bobJob}`, headers: bobAuth })).json();
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const card = await app.inject({ url: '/v1/models/bob-gaps', headers: bobAuth });
    assert.equal(card.statusCode, 200, card.body);
    assert.deepEqual([card.json().id, card.json().mine, card.json().visibility, card.json().datasetId], [done.result.model, true, 'private', dataset]);
    // Bob's model is private to bob, even though it was trained on the owner's dataset.
    assertProblem(await app.inject({ url: '/v1/models/bob-gaps', headers: auth }), 404, 'model_not_found');
    const ownerList = (await app.inject({ url: '/v1/models?limit=100', headers: auth })).json() as { items: { name: string }[] };
    assert.ok(!ownerList.items.some((m) => m.name === 'bob-gaps'));
    // The owner cannot delete a dataset that another principal's model was trained on.
    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset}`, headers: auth }), 409, 'dataset_in_use');
  });
});
