import { Type, type Static } from 'typebox';

/** RFC 9457 problem details, with a stable machine `code` that clients can switch on. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI reference naming the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable machine-readable error code' }),
    detail: Type.String({ description: 'what went wrong, in words a chemist understands' }),
    instance: Type.Optional(Type.String()),
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
  },
  {
    additionalProperties: true,
    examples: [{ type: 'https://matmoe.dev/problems/not_found', title: 'Not Found', status: 404, code: 'not_found', detail: 'no route GET /v1/nothing' }],
  },
);
export type Problem = Static<typeof ProblemSchema>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Thrown by routes and services; the error handler renders it as problem+json. */
export class HttpProblem extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export function problemBody(status: number, code: string, detail: string, extra: Record<string, unknown> = {}, instance?: string): Problem {
  return {
    type: `https://matmoe.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...(instance ? { instance } : {}),
    ...extra,
  };
}

/** Response-schema entries for the problem statuses a route can return, for OpenAPI and serialisation. */
export function problems(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]));
}
