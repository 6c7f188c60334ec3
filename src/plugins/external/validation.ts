import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const BASE: Options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false };

/**
 * Two validators: query strings, path parameters and headers are text, so their numbers and booleans are coerced from
 * strings; JSON bodies are taken as sent (no coercion at all), so `{"model": ["x"]}` is a 400, not the string "x".
 */
export function installValidators(app: FastifyInstance): void {
  const body = addFormats.default(new Ajv({ ...BASE, coerceTypes: false }));
  const text = addFormats.default(new Ajv({ ...BASE, coerceTypes: true }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}
