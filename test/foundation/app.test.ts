import SwaggerParser from '@apidevtools/swagger-parser';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { auth, build, TEST_API_KEY, tinyDataset } from '../helper.js';

test('the API boots against real Postgres and Redis', async (t) => {
  const app = await build(t);

  await t.test('/health/live answers', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'ok');
  });

  await t.test('/health/ready is 200 and names the backend', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.status, 'ready');
    assert.ok(['wasm', 'cpu', 'tensorflow'].includes(body.backend), body.backend);
    assert.deepEqual(body.failing, []);
    assert.equal(body.components.migrations.ok, true);
  });

  await t.test('/docs/json is a valid OpenAPI 3 document listing every route', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.match(doc.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(doc));
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { tags?: string[]; summary?: string; responses?: object }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        assert.ok(op.tags && op.tags.length > 0, `${method} ${path} has a tag`);
        assert.ok(op.summary, `${method} ${path} has a summary`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      }
    }
    // Swagger's own pages and the bull-board UI are not part of the API.
    const apiRoutes = app.routeTable.filter((r) => !r.url.startsWith('/docs') && !r.url.startsWith('/admin/'));
    assert.ok(apiRoutes.length >= 5);
    for (const r of apiRoutes) {
      const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/(.)\/$/, '$1');
      assert.ok(documented.has(`${r.method} ${path}`), `route ${r.method} ${r.url} is in the OpenAPI document`);
    }
  });

  await t.test('an unknown route is a 404 problem+json', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
    assert.equal(res.statusCode, 404);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const body = res.json();
    assert.equal(body.code, 'not_found');
    assert.equal(body.status, 404);
    assert.match(body.detail, /\/v1\/nothing-here/);
  });

  await t.test('a schema-invalid body is a 400 problem+json; the selftest job type is not public', async () => {
    const ids = { dataset: '00000000-0000-4000-8000-000000000001', split: '00000000-0000-4000-8000-000000000002' };
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', ...ids, epochs: 'many' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const body = res.json();
    assert.equal(body.code, 'validation_failed');
    assert.match(body.detail, /epochs/);
    const loss = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', ...ids, loss: 'huber' } });
    assert.equal(loss.statusCode, 400);
    const selftest = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'selftest', steps: 1 } });
    assert.equal(selftest.statusCode, 400);
    // A request of the right shape whose dataset does not exist is a 404, not a 400 or 422.
    const missing = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', ...ids } });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'dataset_not_found');
  });

  await t.test('malformed JSON is a 400 problem+json, not a 500', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"type":' });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
  });

  await t.test('a write route without a key is a 401 problem+json', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'fine-tune' } });
    assert.equal(res.statusCode, 401);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(res.json().code, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    const wrong = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: 'Bearer not-the-key-at-all' }, payload: { type: 'fine-tune' } });
    assert.equal(wrong.statusCode, 401);
  });

  await t.test('a job id that is not a uuid is a 400, an unknown one a 404', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs/42', headers: auth })).statusCode, 400);
    const res = await app.inject({ method: 'GET', url: '/v1/jobs/00000000-0000-4000-8000-000000000000', headers: auth });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'job_not_found');
  });

  await t.test('Idempotency-Key returns the same job for the same request and refuses another request', async () => {
    const { dataset, split } = await tinyDataset(app);
    const headers = { ...auth, 'idempotency-key': 'abc-123' };
    const request = { type: 'fine-tune', dataset, split, epochs: 5 };
    const first = await app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: request });
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.headers.location, `/v1/jobs/${first.json().id}`);
    const second = await app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: request });
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().id, first.json().id);
    const other = await app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: { ...request, epochs: 6 } });
    assert.equal(other.statusCode, 422);
    assert.equal(other.json().code, 'idempotency_key_reused');
  });
});

test('operators: /metrics for Prometheus and a read-only bull-board behind the API key', async (t) => {
  const app = await build(t);
  await app.inject({ method: 'GET', url: '/health/live' });
  const { dataset, split } = await tinyDataset(app);
  const queued = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset, split, epochs: 5 } });
  assert.equal(queued.statusCode, 202, queued.body);

  const metrics = await app.inject('/metrics');
  assert.equal(metrics.statusCode, 200);
  assert.match(metrics.headers['content-type'] as string, /^text\/plain/);
  assert.match(metrics.body, /matmoe_http_request_duration_seconds_bucket\{[^}]*route="\/health\/live"/);
  assert.match(metrics.body, /matmoe_jobs\{type="fine-tune",state="queued"\} 1/);
  assert.match(metrics.body, /# TYPE matmoe_predictions_total counter/);
  // Two concurrent predictions for one model: at least one inference batch, each request counted once.
  await Promise.all(['GaAs', 'NaCl'].map((formula) => app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'expt_bandgap', inputs: [{ formula }] } })));
  const after = (await app.inject('/metrics')).body;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(after)?.[1]);
  assert.ok(value('matmoe_inference_batches') >= 1 && value('matmoe_inference_batches') <= 2, after);
  assert.equal(value('matmoe_inference_batched_requests'), 2);
  assert.equal(value('matmoe_inference_backlog'), 0);

  const anonymous = await app.inject('/admin/queues');
  assert.equal(anonymous.statusCode, 401);
  assert.match(anonymous.headers['www-authenticate'] as string, /^Basic/);
  const browser = await app.inject({ url: '/admin/queues', headers: { authorization: `Basic ${Buffer.from(`ops:${TEST_API_KEY}`).toString('base64')}` } });
  assert.equal(browser.statusCode, 200);
  assert.match(browser.body, /<html/i);
  const api = await app.inject({ url: '/admin/queues/api/queues', headers: auth });
  assert.equal(api.statusCode, 200);
  const queues = api.json().queues as { name: string; readOnlyMode: boolean }[];
  assert.equal(queues[0].name, 'training');
  assert.equal(queues[0].readOnlyMode, true);
});

test('documentation: every configuration variable is in the README, every error status has its own OpenAPI example', async (t) => {
  const app = await build(t);
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const v of CONFIG_VARIABLES) assert.match(readme, new RegExp(`\\| \`${v.name}\` \\|`), `README documents ${v.name}`);

  const doc = (await app.inject('/docs/json')).json();
  const examplesByStatus = new Map<string, Set<string>>();
  for (const ops of Object.values(doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { examples?: unknown[] }; example?: unknown }> }> }>>)) {
    for (const op of Object.values(ops)) {
      for (const [status, res] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const media = res.content?.['application/problem+json'] ?? res.content?.['application/json'];
        const example = media?.example ?? media?.schema?.examples?.[0];
        assert.ok(example, `a ${status} response has an example`);
        const set = examplesByStatus.get(status) ?? new Set();
        set.add(JSON.stringify((example as { status: number; code: string }).status));
        examplesByStatus.set(status, set);
        if (status !== '503' || (example as { failing?: unknown }).failing === undefined) assert.equal((example as { status: number }).status, Number(status), `the ${status} example says ${status}`);
      }
    }
  }
  assert.ok(examplesByStatus.size >= 5, `statuses documented: ${[...examplesByStatus.keys()].join(', ')}`);
  const ready = doc.paths['/health/ready'].get.responses['503'].content['application/json'];
  const readyExample = ready.example ?? ready.schema.examples[0];
  assert.equal(readyExample.status, 'unavailable');
  assert.ok(readyExample.failing.length > 0, 'the 503 example of /health/ready shows a failing component');
  const job = doc.paths['/v1/jobs'].post.responses['202'].content['application/json'];
  assert.equal((job.example ?? job.schema.examples[0]).type, 'fine-tune');
});
