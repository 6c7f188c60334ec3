/**
 * The HTTP fuzz suite (issue 14, part 6): hostile requests of every kind (test/support/hostile-requests.ts) through
 * app.inject and, for protocol abuse, a real socket. Every answer must be a 4xx application/problem+json, or a 2xx
 * where the input happens to be valid: never a 5xx, never a hang. The seed is logged; FUZZ_SEED=<n> replays a run,
 * FUZZ_RUNS=<factor> scales the number of runs.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { auth, build, tinyDataset } from '../helper.js';
import { insertFineTunedModel } from '../support/fine-tuned-model.js';
import {
  authRequests, chemRequests, contentTypeRequests, idRequests, jsonRequests, protocolAbuse, queryRequests, rawRequests, type HostileRequest, type Targets,
} from '../support/hostile-requests.js';
import { problemOf } from '../support/problems.js';
import { rawExchange, type RawResponse } from '../support/raw-http.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
/** The hang guard: far beyond any answer's time, short of the test's patience. */
const HANG_MS = 30_000;

/** What was sent, for a failure message that can be replayed by hand. */
const describe = (r: HostileRequest) => `${r.method} ${r.url.slice(0, 300)} ${JSON.stringify(r.headers).slice(0, 300)} body=${JSON.stringify(String(r.body ?? '').slice(0, 600))}`;

async function inject(app: FastifyInstance, r: HostileRequest): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms: ${describe(r)}`)), HANG_MS); });
  try {
    return await Promise.race([app.inject({ method: r.method as 'GET', url: r.url, headers: r.headers, ...(r.body !== undefined ? { payload: r.body } : {}) }), hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** A 2xx or 3xx, or a 4xx problem+json (HEAD answers carry only the headers), the queue dashboard's included. */
function assertSound(status: number, res: LightMyRequestResponse | RawResponse, what: string, url = ''): void {
  assert.ok(status < 500, `${status} for ${what}: ${res.body.slice(0, 500)}`);
  assert.ok(status >= 200, `unexpected status ${status} for ${what}`);
  if (status < 400) return;
  if (res.body === '') assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
  else problemOf(res);
}

test(`HTTP fuzz suite (fast-check seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  t.diagnostic(`fast-check seed ${SEED}: replay with FUZZ_SEED=${SEED}`);
  const app = await build(t);
  const { dataset, split } = await tinyDataset(app, 'fuzz targets');
  const job = await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'fine-tune', dataset, split, epochs: 1 } });
  assert.equal(job.statusCode, 202, job.body);
  const model = await insertFineTunedModel(app.pg, { owner: 'default', name: 'fuzz-model', datasetId: dataset, splitId: split });
  const targets: Targets = {
    dataset, split, job: job.json().id, model: model.name, compositionModel: 'expt_bandgap', structureModel: 'jarvis_2d_gap_opt', cgcnnExpert: 'mp_eform',
    compositionExpert: 'comp_mp_e_form', authorization: auth.authorization,
  };
  const params = (numRuns: number) => ({ seed: SEED, numRuns: Math.max(1, Math.round(numRuns * RUNS)), endOnFailure: true });
  // Answers by status, per property, so the log shows how much of each got past validation.
  let tally = new Map<number, number>();
  t.afterEach((ctx) => {
    ctx.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...tally].sort(([a], [b]) => a - b)))}`);
    tally = new Map();
  });
  const property = (arb: fc.Arbitrary<HostileRequest>) => fc.asyncProperty(arb, async (r) => {
    const res = await inject(app, r);
    tally.set(res.statusCode, (tally.get(res.statusCode) ?? 0) + 1);
    assertSound(res.statusCode, res, describe(r), r.url);
  });

  const suites: [string, fc.Arbitrary<HostileRequest>, number][] = [
    ['chemistry: mutated formulas, CIF and POSCAR text, pymatgen dicts, into predictions and dataset rows', chemRequests(targets), 800],
    ['JSON: random bodies for every route, and valid bodies with a field replaced or added', jsonRequests(targets), 1000],
    ['content types that do not match the body, or are not content types', contentTypeRequests(targets), 400],
    ['ids in every path parameter, with every method', idRequests(targets), 1000],
    ['query parameters of every list route', queryRequests(targets), 600],
    ['Authorization headers that are not a key', authRequests(targets), 200],
  ];
  for (const [name, arb, runs] of suites) await t.test(name, () => fc.assert(property(arb), params(runs)));

  await t.test('raw sockets: requests with bytes inserted, replaced or cut, lengths that lie, broken chunking', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    await fc.assert(fc.asyncProperty(fc.oneof(rawRequests(targets), fc.constantFrom(...protocolAbuse(targets))), async ({ bytes }) => {
      // Bytes may promise more body than they hold: when nothing comes back for half a second, the client ends its side.
      const x = await rawExchange(port, bytes, { timeoutMs: HANG_MS, untilClose: true, endAfterMs: 500 });
      const what = JSON.stringify(bytes.toString('latin1').slice(0, 400));
      assert.equal(x.timedOut, false, `no answer within ${HANG_MS} ms: ${what}`);
      assert.ok(x.responses.length > 0, `no answer (the connection ${x.closed ? 'was closed' : 'stayed open'}): ${what}`);
      for (const r of x.responses) tally.set(r.status, (tally.get(r.status) ?? 0) + 1);
      for (const r of x.responses) if (r.status !== 100) assertSound(r.status, r, what);
    }), params(200));
  });
});
