/**
 * The one error base class of the project. Anything a request can run into — bad chemistry, a missing dataset, a
 * conflicting name, a job that cannot run — is an AppError with an HTTP status and a stable machine `code`; the
 * message is written for a chemist. plugins/app/problems.ts renders it as application/problem+json, the only place
 * that maps errors to HTTP. `extra` carries structured details (e.g. one entry per bad input) into the problem body.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request itself is malformed (beyond what the schema can say). */
export class BadRequestError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(400, code, message, extra);
  }
}

/** 404: what the request names does not exist (or is not visible to the caller). */
export class NotFoundError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(404, code, message, extra);
  }
}

/** 409: the request conflicts with the current state (a taken name, a dataset in use, a finished job). */
export class ConflictError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(409, code, message, extra);
  }
}

/** 422: well-formed, but it cannot work (unknown expert, structure needed, values out of physical range). */
export class UnprocessableError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(422, code, message, extra);
  }
}

/** 503: a dependency (Postgres, Redis) is not answering; the request may be retried. */
export class UnavailableError extends AppError {
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super(503, code, message, extra);
  }
}
