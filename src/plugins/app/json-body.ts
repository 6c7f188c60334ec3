import fp from 'fastify-plugin';
import { BadRequestError } from '../../errors.js';

/** Deeper JSON is no request anyone means (a dataset row holding a pymatgen dict is about 10 levels deep). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, read as text (strings skipped) in one pass, before
 * it is parsed: a 5,000-deep body overflowed the stack wherever it was walked recursively or copied to an inference
 * thread (a 500).
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** application/json bodies: Fastify's own parser (prototype poisoning refused), after the nesting bound (400 `json_too_deep`). */
export default fp(async (app) => {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      done(new BadRequestError('json_too_deep', `the JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`), undefined);
      return;
    }
    parse(request, text, done);
  });
}, { name: 'json-body' });
