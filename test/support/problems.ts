/** Assertions on problem+json answers, for injected responses and for responses read off a raw socket alike. */
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import type { RawResponse } from './raw-http.js';

export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId?: string;
  errors?: { index?: number; line?: number; path?: string; code?: string; message: string }[];
  [key: string]: unknown;
}

/** The problem body of an error answer: application/problem+json, a 4xx status equal to the body's, a code, a detail, a request id. */
export function problemOf(res: Response | RawResponse): ProblemJson {
  const status = 'statusCode' in res ? res.statusCode : res.status;
  const contentType = String(res.headers['content-type'] ?? '');
  assert.match(contentType, /^application\/problem\+json/, `status ${status}, content-type "${contentType}": ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body) as ProblemJson;
  assert.equal(body.status, status, 'the body names the status of the response');
  assert.equal(typeof body.code, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.equal(typeof body.requestId, 'string', 'problem bodies carry the request id');
  return body;
}

/** Asserts the answer is a problem with this status (and code, when given); returns the body. */
export function assertProblem(res: Response | RawResponse, status: number, code?: string): ProblemJson {
  const body = problemOf(res);
  assert.equal(body.status, status, `expected ${status}${code ? ` ${code}` : ''}, got ${body.status} ${body.code}: ${body.detail}`);
  if (code !== undefined) assert.equal(body.code, code, body.detail);
  return body;
}
