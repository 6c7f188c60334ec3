/**
 * Hostile HTTP requests as data, for the fuzz suite (test/http/fuzz.test.ts, sent with app.inject and over raw sockets)
 * and bench:hostile (sent to a running API): chemistry inputs, random JSON for every route body, content types, ids,
 * query parameters, Authorization headers, and raw bytes that abuse the protocol itself.
 */
import fc from 'fast-check';
import { hostileJson, hostileMaterial, hostileString } from './hostile-chem.js';

export interface HostileRequest {
  /** What it exercises, e.g. "chem", "json", "ids". */
  kind: string;
  method: string;
  /** Path and query as sent (percent-encoded where it is meant to be valid). */
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Existing things to aim at, so that hostile requests get past "not found" into the code that reads them. */
export interface Targets {
  dataset: string;
  split: string;
  job: string;
  /** A fine-tuned model of the key's principal. */
  model: string;
  compositionModel: string;
  structureModel: string;
  cgcnnExpert: string;
  compositionExpert: string;
  /** The `Authorization` header of a valid key. */
  authorization: string;
}

/** encodeURIComponent, with lone surrogates (which it refuses) as U+FFFD; raw invalid UTF-8 is sent on purpose elsewhere (%ED%A0%80). */
const encode = (s: string): string => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

const json = (kind: string, method: string, url: string, body: unknown, headers: Record<string, string> = {}): HostileRequest =>
  ({ kind, method, url, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) ?? 'null' });

/** A multipart/form-data body with the given text fields and one file. */
export function multipartBody(fields: Record<string, string>, file: { name: string; content: string }, boundary = 'hostile-boundary-7d1f'): { contentType: string; body: string } {
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n${file.content}\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: parts.join('') };
}

const csvCell = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Mutated chemistry into every route that reads it: predictions (composition and structure models, both expert kinds), dataset rows as JSON, JSONL and CSV. */
export function chemRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const auth = { authorization: t.authorization };
  return fc.tuple(hostileMaterial(), fc.integer({ min: 0, max: 6 }), fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(1e308, -1e16, 1e15))).map(([input, route, target]) => {
    const inputs = { inputs: [input] };
    switch (route) {
      case 0: return json('chem', 'POST', '/v1/predict', { model: t.compositionModel, ...inputs });
      case 1: return json('chem', 'POST', `/v1/models/${t.structureModel}/predict`, inputs);
      case 2: return json('chem', 'POST', `/v1/experts/${t.cgcnnExpert}/predict`, inputs);
      case 3: return json('chem', 'POST', `/v1/experts/${t.compositionExpert}/predict`, inputs);
      case 4: return json('chem', 'POST', '/v1/datasets', { name: 'fuzz', property: 'fuzz', unit: '', rows: [{ ...input, target }] }, auth);
      case 5: {
        const form = multipartBody({ name: 'fuzz', property: 'fuzz', unit: '' }, { name: 'rows.jsonl', content: `${JSON.stringify({ ...input, target })}\n` });
        return { kind: 'chem', method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': form.contentType }, body: form.body };
      }
      default: {
        const [key, value] = Object.entries(input)[0];
        const cell = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
        const form = multipartBody({ name: 'fuzz', property: 'fuzz', unit: '' }, { name: 'rows.csv', content: `${key},target\n${csvCell(cell)},${target}\n` });
        return { kind: 'chem', method: 'POST', url: '/v1/datasets', headers: { ...auth, 'content-type': form.contentType }, body: form.body };
      }
    }
  });
}

/** Every route that takes a body, with auth when it needs it. */
function bodyRoutes(t: Targets): { method: string; url: string; valid: Record<string, unknown> }[] {
  return [
    { method: 'POST', url: '/v1/predict', valid: { model: t.compositionModel, inputs: [{ formula: 'GaAs' }] } },
    { method: 'POST', url: `/v1/models/${t.model}/predict`, valid: { inputs: [{ formula: 'GaAs' }] } },
    { method: 'POST', url: `/v1/experts/${t.compositionExpert}/predict`, valid: { inputs: [{ formula: 'GaAs' }] } },
    { method: 'POST', url: '/v1/datasets', valid: { name: 'fuzz', property: 'fuzz', unit: 'eV', rows: [{ formula: 'GaAs', target: 1 }, { formula: 'Si', target: 2 }] } },
    { method: 'POST', url: `/v1/datasets/${t.dataset}/splits`, valid: { method: 'random', seed: 1, fractions: [0.6, 0.2, 0.2] } },
    { method: 'POST', url: `/v1/datasets/${t.dataset}/splits`, valid: { method: 'explicit', train: [0, 1, 2], val: [3], test: [4] } },
    { method: 'POST', url: '/v1/jobs', valid: { type: 'fine-tune', dataset: t.dataset, split: t.split, experts: [t.compositionExpert], epochs: 1, k: 1 } },
    { method: 'POST', url: '/v1/jobs', valid: { type: 'batch-predict', model: t.compositionModel, dataset: t.dataset, coverage: 0.9 } },
    { method: 'PATCH', url: `/v1/datasets/${t.dataset}`, valid: { visibility: 'private' } },
    { method: 'PATCH', url: `/v1/models/${t.model}`, valid: { visibility: 'private' } },
  ];
}

/** Random JSON for every route body: whole bodies, and valid bodies with one field replaced, removed or added. */
export function jsonRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const routes = bodyRoutes(t);
  return fc.tuple(fc.constantFrom(...routes), fc.integer({ min: 0, max: 2 }), hostileJson(), fc.nat(), hostileString()).map(([r, op, value, k, key]) => {
    const fields = Object.keys(r.valid);
    let body: unknown;
    if (op === 0) body = value;
    else if (op === 1) body = { ...r.valid, [fields[k % fields.length]]: value };
    else body = { ...r.valid, [key]: value };
    return json('json', r.method, r.url, body, { authorization: t.authorization });
  });
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'text/csv', 'application/x-www-form-urlencoded',
  'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=x', 'multipart/mixed; boundary=x', 'application/xml', 'application/octet-stream',
  'application/problem+json', '*/*', 'application/', '/', ';', 'application/json;;;', 'APPLICATION/JSON', 'application/json\u00e9', ''];

/** Bodies under content types they do not match, and content types that are not content types. */
export function contentTypeRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const routes = bodyRoutes(t);
  const bodies = fc.oneof(fc.constantFrom(...routes.map((r) => JSON.stringify(r.valid))), fc.string({ unit: 'binary', maxLength: 200 }), hostileJson().map((v) => JSON.stringify(v) ?? ''),
    fc.constantFrom('formula,target\nGaAs,1\n', '--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nformula,target\nGaAs,1\r\n--x--\r\n', 'a=1&b=2', '\u0000\u0000'));
  return fc.tuple(fc.constantFrom(...routes), fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ unit: 'grapheme-ascii', maxLength: 40 })), bodies, fc.boolean())
    .map(([r, contentType, body, withAuth]) => ({
      kind: 'content-type', method: r.method, url: r.url, body,
      headers: { ...(contentType !== '' ? { 'content-type': contentType } : {}), ...(withAuth ? { authorization: t.authorization } : {}) },
    }));
}

/** Path parameters: uuid-ish, names, unicode, NUL, long, broken percent-encodings, dot segments. */
export function hostileId(t: Targets): fc.Arbitrary<string> {
  return fc.oneof(
    fc.uuid().map((u) => u),
    fc.uuid().map((u) => u.toUpperCase()),
    fc.uuid().map((u) => `${u.slice(0, 35)}g`),
    fc.constantFrom(t.dataset, t.split, t.job, t.model, t.compositionModel, t.cgcnnExpert, `${t.dataset}%00`, '%00', 'a%00', '%zz', '%', '%E0%A4%A', '%ED%A0%80', '%FF', '.', '..', '%2e%2e', '%2F', 'null', 'undefined', '0', '-1', '1e308', '__proto__', 'constructor'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 120 }).map(encode),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 120 }).map(encode),
    fc.integer({ min: 90, max: 300 }).map((n) => 'a'.repeat(n)),
  );
}

/** Every route with path parameters, every method, each parameter hostile in turn. */
export function idRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const templates = ['/v1/datasets/{a}', '/v1/datasets/{a}/splits', '/v1/datasets/{a}/splits/{b}', '/v1/models/{a}', '/v1/models/{a}/parity.svg', '/v1/models/{a}/gates.svg',
    '/v1/models/{a}/predict', '/v1/experts/{a}', '/v1/experts/{a}/predict', '/v1/jobs/{a}', '/v1/jobs/{a}/events', '/v1/jobs/{a}/output', '/v1/{a}', '/{a}', '/docs/static/{a}',
    '/admin/queues/{a}', '/admin/queues/static/{a}', '/admin/queues/api/queues/training/{a}', '/admin/queues/api/queues/{a}/1/logs'];
  return fc.tuple(fc.constantFrom(...templates), hostileId(t), fc.constantFrom(t.dataset, t.split), fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS'), fc.boolean())
    .map(([template, id, other, method, withAuth]) => {
      const url = template.replace('{a}', id).replace('{b}', other);
      // The job event stream of an existing job stays open; only hostile ids are aimed at it.
      const events = url.endsWith('/events') && method === 'GET' && (id === t.job);
      const body = method === 'POST' || method === 'PATCH' || method === 'PUT' ? JSON.stringify(method === 'PATCH' ? { visibility: 'private' } : { inputs: [{ formula: 'GaAs' }] }) : undefined;
      return {
        kind: 'ids', method: events ? 'HEAD' : method, url, body,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(withAuth ? { authorization: t.authorization } : {}) },
      };
    });
}

const QUERY_KEYS = ['limit', 'offset', 'property', 'rowsLimit', 'rowsOffset', 'kind', 'limit[]', 'offset[a]', '__proto__', ''];
const QUERY_VALUES = ['1e308', '1e999', '-1', '0', '-0', '1.5', '2147483647', '2147483648', '9007199254740993', '0x10', 'NaN', 'Infinity', '', '%00', 'a%00', '%zz', '%ED%A0%80', '%FF', 'cgcnn', 'true', '[]', '{}'];

/** Query strings of every list route: known keys with hostile values, repeated keys, unknown keys, broken encodings. */
export function queryRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const pair = fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), hostileString().map(encode)),
    fc.oneof(fc.constantFrom(...QUERY_VALUES), hostileString().map(encode), fc.double().map(String), fc.bigInt().map(String)));
  return fc.tuple(fc.constantFrom('/v1/datasets', '/v1/models', '/v1/experts', `/v1/datasets/${t.dataset}`, `/v1/datasets/${t.dataset}/splits`, '/health/ready', '/metrics'),
    fc.array(pair, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([path, pairs, withAuth]): HostileRequest => ({
      kind: 'query', method: 'GET', url: `${path}?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`, headers: withAuth ? { authorization: t.authorization } : {},
    }));
}

/** Authorization headers that are not a valid key, on public and private routes. */
export function authRequests(t: Targets): fc.Arbitrary<HostileRequest> {
  const header = fc.oneof(
    fc.constantFrom('Bearer', 'Bearer ', 'Bearer  x', 'bearer x', 'Basic', 'Basic !!!', 'Basic Og==', 'Basic OnRlc3Q=', 'Digest x', 'x', ' ', `${t.authorization}x`, `${t.authorization} extra`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `Bearer ${s}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
    fc.integer({ min: 100, max: 8000 }).map((n) => `Bearer ${'k'.repeat(n)}`),
  );
  return fc.tuple(header, fc.constantFrom('/v1/datasets', '/v1/models', `/v1/jobs/${t.job}`, `/v1/datasets/${t.dataset}`, '/admin/queues', '/health/live')).map(([authorization, url]) => ({
    kind: 'auth', method: 'GET', url, headers: { authorization },
  }));
}

/** The request as bytes on the wire. */
export function toBytes(r: HostileRequest): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const headers = { host: 'localhost', ...r.headers, ...(r.body !== undefined ? { 'content-length': String(body.length) } : {}), connection: 'close' };
  const head = `${r.method} ${r.url} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

/** Raw bytes that abuse HTTP itself: a valid request with bytes flipped, inserted or cut, lengths that lie, broken chunking. */
export function rawRequests(t: Targets): fc.Arbitrary<{ kind: string; bytes: Buffer }> {
  const base = fc.constantFrom(
    toBytes(json('raw', 'POST', '/v1/predict', { model: t.compositionModel, inputs: [{ formula: 'GaAs' }] })),
    toBytes({ kind: 'raw', method: 'GET', url: `/v1/datasets/${t.dataset}`, headers: { authorization: t.authorization } }),
    toBytes({ kind: 'raw', method: 'GET', url: '/v1/models?limit=2', headers: {} }),
  );
  const insert = fc.constantFrom('\r\n', '\n', '\r', '\u0000', ' ', ':', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 0\r\n', 'Content-Length: 99999\r\n', 'Expect: 100-continue\r\n',
    'Expect: nope\r\n', 'Host: a\r\nHost: b\r\n', '0\r\n\r\n', 'zz\r\n', 'GET / HTTP/1.1\r\n\r\n', 'é', '\t', 'X'.repeat(20_000));
  return fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 3 }), insert, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([b, at, op, text, bytes]) => {
    const i = at % (b.length + 1);
    let out: Buffer;
    if (op === 0) out = Buffer.concat([b.subarray(0, i), Buffer.from(text, 'utf8'), b.subarray(i)]);
    else if (op === 1) out = Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]);
    else if (op === 2) out = Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + bytes.length))]);
    else out = Buffer.from(b).fill(bytes[0], i, Math.min(b.length, i + bytes.length));
    return { kind: 'raw', bytes: out };
  });
}

/** Fixed protocol abuse: oversized heads and bodies, deep nesting, lengths that lie, methods and framings Node refuses. */
export function protocolAbuse(t: Targets): { kind: string; bytes: Buffer }[] {
  const predict = (body: string, headers: Record<string, string> = {}) => toBytes({ kind: 'abuse', method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json', ...headers }, body });
  const head = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const cases = [
    head(['GET /v1/models HTTP/1.1', 'Host: localhost', `X-Big: ${'a'.repeat(20_000)}`]),
    head(['GET /v1/models HTTP/1.1', 'Host: localhost', ...Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${i}`)]),
    head([`GET /v1/models?q=${'a'.repeat(20_000)} HTTP/1.1`, 'Host: localhost']),
    head([`GET /v1/models/${'a'.repeat(5_000)} HTTP/1.1`, 'Host: localhost']),
    predict(JSON.stringify({ model: t.compositionModel, inputs: [{ formula: 'x'.repeat(2 * 1024 * 1024) }] })),
    predict(`{"model":"${t.compositionModel}","inputs":[{"structure":${deep(100_000)}}]}`),
    predict(`${'['.repeat(200_000)}${']'.repeat(200_000)}`),
    toBytes({ kind: 'abuse', method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'application/json', authorization: t.authorization },
      body: `{"name":"deep","property":"p","unit":"","rows":[{"structure":${deep(50_000)},"target":1}]}` }),
    predict(JSON.stringify({ model: `${t.compositionModel}\u0000`, inputs: [{ formula: 'GaAs' }] })),
    predict(JSON.stringify({ model: t.compositionModel, inputs: Array.from({ length: 5000 }, () => ({ formula: 'GaAs' })) })),
    predict('{}', { 'content-encoding': 'gzip' }),
    predict('{}', { expect: 'the-impossible' }),
    head(['POST /v1/predict HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', 'Content-Length: 100000']),
    Buffer.concat([head(['POST /v1/predict HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', 'Content-Length: 5']), Buffer.from('{"model":"x","inputs":[]}GET / HTTP/1.1\r\n\r\n')]),
    Buffer.concat([head(['POST /v1/predict HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', 'Transfer-Encoding: chunked']), Buffer.from('5\r\n{"a":\r\nZZZ\r\n')]),
    Buffer.concat([head(['POST /v1/predict HTTP/1.1', 'Host: localhost', 'Content-Type: application/json', 'Transfer-Encoding: chunked']),
      ...Array.from({ length: 40 }, () => Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`)), Buffer.from('0\r\n\r\n')]),
    head(['POST /v1/predict HTTP/1.1', 'Host: localhost', 'Content-Length: 5', 'Transfer-Encoding: chunked']),
    head(['GET /v1/models HTTP/1.1']),
    head(['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443']),
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    Buffer.from('GET /v1/models HTTP/1.1\r\nHost: localhost\r\n'),
    Buffer.from('\u0000\u0001\u0002\u0003'),
    Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(50)),
  ];
  return cases.map((bytes) => ({ kind: 'abuse', bytes }));
}
