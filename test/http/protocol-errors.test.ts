/**
 * Protocol abuse over a real socket (issue 14, part 1, items 4–5): what Node's parser or Fastify's router refuse
 * before any route runs was answered with an empty or plain-JSON body, or not at all. Every answer here is a
 * complete HTTP/1.1 response with a problem+json body; after a parser error the connection is closed.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { auth, build } from '../helper.js';
import { assertProblem } from '../support/problems.js';
import { rawExchange, type RawExchange } from '../support/raw-http.js';

const request = (head: string, body = '') => `${head}\r\n\r\n${body}`;
const post = (path: string, headers: string[], body: string) =>
  request([`POST ${path} HTTP/1.1`, 'Host: localhost', ...headers].join('\r\n'), body);
const PREDICT = JSON.stringify({ model: 'expt_bandgap', inputs: [{ formula: 'GaAs' }] });

/** The one answer of an exchange, which ended with the server closing the connection. */
function onlyAnswer(x: RawExchange): RawExchange['responses'][number] {
  assert.equal(x.timedOut, false, 'the server answered');
  assert.equal(x.responses.length, 1, `one response: ${JSON.stringify(x)}`);
  return x.responses[0];
}

test('protocol errors over a real socket are problem+json', async (t) => {
  const app = await build(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const send = (bytes: string | string[], opts: { end?: boolean } = {}) => rawExchange(port, bytes, { timeoutMs: 10_000, untilClose: true, ...opts });

  await t.test('bytes that are not an HTTP/1.1 request: 400 malformed_request naming the parser error, then the connection closes', async () => {
    const cases: [string, string][] = [
      ['GARBAGE\r\n\r\n', 'HPE_INVALID_METHOD'],
      [request('FOO /v1/models HTTP/1.1\r\nHost: localhost'), 'HPE_INVALID_METHOD'],
      [request('GET /v1/models HTTP/9.9\r\nHost: localhost'), 'HPE_INVALID_VERSION'],
      [request('GET v1/models HTTP/1.1\r\nHost: localhost'), 'HPE_INVALID_URL'],
      [request('GET /v1/mo dels HTTP/1.1\r\nHost: localhost'), 'HPE_INVALID_CONSTANT'],
      [request('GET /v1/models HTTP/1.1\r\nHost: localhost\r\nBad Header: x'), 'HPE_INVALID_HEADER_TOKEN'],
      [request('GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer a\u0000b'), 'HPE_INVALID_HEADER_TOKEN'],
      ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'HPE_PAUSED_H2_UPGRADE'],
      [post('/v1/predict', ['Content-Length: 5', 'Transfer-Encoding: chunked'], '0\r\n\r\n'), 'HPE_INVALID_TRANSFER_ENCODING'],
      [post('/v1/predict', ['Content-Length: 5', 'Content-Length: 6'], '12345'), 'HPE_UNEXPECTED_CONTENT_LENGTH'],
      [post('/v1/predict', ['Content-Length: abc'], ''), 'HPE_INVALID_CONTENT_LENGTH'],
      [post('/v1/predict', ['Content-Type: application/json', 'Transfer-Encoding: gzip'], '{}'), 'HPE_INVALID_TRANSFER_ENCODING'],
      [post('/v1/predict', ['Content-Type: application/json', 'Transfer-Encoding: chunked'], '5\r\n{"a":\r\nZZZ\r\n'), 'HPE_INVALID_CHUNK_SIZE'],
    ];
    for (const [bytes, parserError] of cases) {
      const x = await send(bytes);
      const problem = assertProblem(onlyAnswer(x), 400, 'malformed_request');
      assert.equal(problem.parserError, parserError, `${JSON.stringify(bytes.slice(0, 60))}: ${problem.detail}`);
      assert.equal(x.closed, true);
    }
  });

  await t.test('a client that stops mid-request (headers or body cut short, then end of stream) gets a 400', async () => {
    for (const bytes of ['GET /v1/models HTTP/1.1\r\nHost: localhost\r\n', post('/v1/predict', ['Content-Type: application/json', 'Content-Length: 500'], '{"model":'),
      post('/v1/predict', ['Content-Type: application/json', 'Transfer-Encoding: chunked'], '5\r\n{"a":\r\n')]) {
      assertProblem(onlyAnswer(await send(bytes, { end: true })), 400, 'malformed_request');
    }
  });

  await t.test('a Content-Length shorter than the body: the rest is no request, 400 and the connection closes', async () => {
    const x = await send(post('/v1/predict', ['Content-Type: application/json', 'Content-Length: 5'], PREDICT));
    // The first five bytes are a request whose body is not JSON; Fastify closes the connection after that answer.
    assert.equal(x.closed, true);
    assertProblem(onlyAnswer(x), 400, 'ctp_invalid_json_body');
  });

  await t.test('headers or a URL over the size limit: 431 headers_too_large', async () => {
    assertProblem(onlyAnswer(await send(request(`GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}`))), 431, 'headers_too_large');
    assertProblem(onlyAnswer(await send(request(`GET /v1/models?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost`))), 431, 'headers_too_large');
  });

  await t.test('router errors over the socket: a bad percent-encoding (400 bad_url), a long path parameter (414)', async () => {
    const [bad] = (await rawExchange(port, request('GET /v1/models/%zz HTTP/1.1\r\nHost: localhost'))).responses;
    assertProblem(bad, 400, 'bad_url');
    const [long] = (await rawExchange(port, request(`GET /v1/models/${'a'.repeat(200)} HTTP/1.1\r\nHost: localhost`))).responses;
    assertProblem(long, 414, 'max_param_length');
  });

  await t.test('HTTP rules: Host is required in HTTP/1.1 (400), Expect other than 100-continue (417), CONNECT (405)', async () => {
    const [noHost] = (await rawExchange(port, request('GET /v1/models HTTP/1.1'))).responses;
    assertProblem(noHost, 400, 'host_missing');
    const [http10] = (await rawExchange(port, request('GET /health/live HTTP/1.0'))).responses;
    assert.equal(http10.status, 200, 'HTTP/1.0 needs no Host');
    const [expect] = (await rawExchange(port, post('/v1/predict', ['Content-Type: application/json', 'Expect: the-impossible', `Content-Length: ${PREDICT.length}`], PREDICT))).responses;
    assertProblem(expect, 417, 'expectation_failed');
    const continued = await send(post('/v1/predict', ['Content-Type: application/json', 'Expect: 100-continue', 'Connection: close', 'Content-Length: 2'], '{}'));
    assert.deepEqual(continued.responses.map((r) => r.status), [100, 400]);
    assertProblem(continued.responses[1], 400, 'validation_failed');
    const connect = onlyAnswer(await send(request('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443')));
    assertProblem(connect, 405, 'method_not_allowed');
    assert.match(connect.headers.allow, /GET/);
  });

  await t.test('a body over the limit, declared or chunked: 413; a compressed body: 415', async () => {
    // POST /v1/jobs takes the default limit of 1 MiB.
    const jobs = (headers: string[], body: string) => post('/v1/jobs', [`Authorization: ${auth.authorization}`, 'Content-Type: application/json', ...headers], body);
    const declared = await send(jobs(['Content-Length: 100000000'], '{}'));
    assertProblem(declared.responses[0], 413, 'ctp_body_too_large');
    const chunk = `{"type":"${'x'.repeat(64 * 1024)}`;
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const streamed = await rawExchange(port, [jobs(['Transfer-Encoding: chunked'], ''), ...chunks, '0\r\n\r\n']);
    assertProblem(streamed.responses[0], 413, 'ctp_body_too_large');
    const [gzip] = (await rawExchange(port, post('/v1/predict', ['Content-Type: application/json', 'Content-Encoding: gzip', 'Content-Length: 2'], '{}'))).responses;
    assertProblem(gzip, 415, 'unsupported_content_encoding');
  });

  await t.test('a 4xx from a route keeps the connection usable; a malformed request pipelined after a good one is refused after the good one is answered', async () => {
    const x = await send([post('/v1/predict', ['Content-Type: application/json', 'Content-Length: 2'], '{}'), request('GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close')]);
    assert.deepEqual(x.responses.map((r) => r.status), [400, 200]);
    assertProblem(x.responses[0], 400, 'validation_failed');
    const y = await send([request('GET /health/live HTTP/1.1\r\nHost: localhost'), 'BAD\r\n\r\n']);
    assert.deepEqual(y.responses.map((r) => r.status), [200, 400]);
    assertProblem(y.responses[1], 400, 'malformed_request');
  });

  await t.test('multipart uploads with no boundary, a wrong or empty boundary, a truncated body: 400 multipart_invalid (over a real socket)', async () => {
    const form = ['--ABC', 'Content-Disposition: form-data; name="name"', '', 'gaps', '--ABC', 'Content-Disposition: form-data; name="property"', '', 'band gap',
      '--ABC', 'Content-Disposition: form-data; name="unit"', '', 'eV', '--ABC', 'Content-Disposition: form-data; name="file"; filename="gaps.csv"', '',
      'formula,target\nGaAs,1.42\nSi,1.12', '--ABC--', ''].join('\r\n');
    const upload = (contentType: string, body: string) => rawExchange(port, post('/v1/datasets', [`Authorization: ${auth.authorization}`, `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`], body));
    for (const [contentType, body] of [['multipart/form-data', form], ['multipart/form-data; boundary=XYZ', form], ['multipart/form-data; boundary=', form],
      ['multipart/form-data; boundary=ABC', form.slice(0, 120)], ['multipart/form-data; boundary=ABC', form.slice(0, form.indexOf('GaAs'))]]) {
      const [res] = (await upload(contentType, body)).responses;
      assertProblem(res, 400, 'multipart_invalid');
    }
    const [ok] = (await upload('multipart/form-data; boundary=ABC', form)).responses;
    assert.equal(ok.status, 201, ok.body);
  });
});
