import { Type, type Static } from 'typebox';

/** RFC 9457 problem details, with a stable machine `code` that clients can switch on. */
const problemProperties = {
  type: Type.String({ description: 'URI reference naming the problem type' }),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'stable machine-readable error code' }),
  detail: Type.String({ description: 'what went wrong, in words a chemist understands' }),
  instance: Type.Optional(Type.String({ description: 'the request path' })),
  requestId: Type.Optional(Type.String({ description: 'the id of the request in the server logs' })),
  errors: Type.Optional(
    Type.Array(
      Type.Object(
        {
          index: Type.Optional(Type.Integer()),
          path: Type.Optional(Type.String()),
          code: Type.Optional(Type.String()),
          message: Type.String(),
        },
        { additionalProperties: true },
      ),
    ),
  ),
};

export const ProblemSchema = Type.Object(problemProperties, { additionalProperties: true });
export type Problem = Static<typeof ProblemSchema>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  408: 'Request Timeout', 409: 'Conflict', 411: 'Length Required', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 417: 'Expectation Failed',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemBody(status: number, code: string, detail: string, extra: Record<string, unknown> = {}, instance?: string, requestId?: string): Problem {
  return {
    type: `https://matmoe.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...(instance ? { instance } : {}),
    ...(requestId ? { requestId } : {}),
    ...extra,
  };
}

/** One honest example per status, for the OpenAPI document. */
const EXAMPLES: Record<number, Problem> = {
  400: problemBody(400, 'validation_failed', 'the request body/inputs/0 must NOT have fewer than 1 properties', { errors: [{ path: 'body/inputs/0', message: 'must NOT have fewer than 1 properties' }] }, '/v1/predict', 'req-1'),
  401: problemBody(401, 'unauthorized', 'this route needs an API key: send "Authorization: Bearer <key>"', {}, '/v1/jobs', 'req-2'),
  404: problemBody(404, 'model_not_found', 'there is no model "my-gaps"; GET /v1/models lists them', {}, '/v1/models/my-gaps', 'req-3'),
  409: problemBody(409, 'model_name_taken', 'a model named "my-gaps" already exists or is being trained by a queued or running job; choose another name', {}, '/v1/jobs', 'req-4'),
  413: problemBody(413, 'dataset_too_large', 'the upload has 60000000 bytes; at most 52428800 are accepted', { limit: 52428800 }, '/v1/datasets', 'req-5'),
  415: problemBody(415, 'unsupported_media_type', 'send the dataset as application/json or multipart/form-data, not "text/plain"', {}, '/v1/datasets', 'req-6'),
  422: problemBody(422, 'invalid_input', 'input 1: "Xx2O3" is not a formula: "Xx" is not an element symbol (position 0)', { errors: [{ index: 1, code: 'formula_unknown_element', message: '"Xx2O3" is not a formula: "Xx" is not an element symbol (position 0)' }] }, '/v1/predict', 'req-7'),
  429: problemBody(429, 'rate_limited', 'too many requests: at most 600 per minute for anonymous clients; retry after 12 s or send an API key', {}, '/v1/predict', 'req-8'),
  503: problemBody(503, 'dependency_unavailable', 'PostgreSQL is not answering; retry in a few seconds', { dependency: 'postgres' }, '/v1/datasets', 'req-9'),
};

type ProblemResponse = { description: string; content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof ProblemSchema; example?: Problem } } };

/** Response entries for the problem statuses a route can return: application/problem+json, each with its own example. */
export function problems(...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: TITLES[s] ?? 'Error',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema, ...(EXAMPLES[s] ? { example: EXAMPLES[s] } : {}) } },
  }]));
}
