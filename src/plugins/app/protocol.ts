import fp from 'fastify-plugin';
import { AppError, BadRequestError } from '../../errors.js';

/**
 * HTTP rules that neither Node nor Fastify answer with a problem body. An HTTP/1.1 request must carry a Host header
 * (RFC 9112 §3.2): Node's own check answers an empty 400, so app.ts turns it off and it is made here. Bodies are read
 * as sent, never decompressed, so a Content-Encoding other than identity is a 415 (RFC 9110 §8.4.1) instead of a
 * confusing JSON error about compressed bytes (a gzip-compressed dataset file inside a form is another matter: the
 * upload reader unpacks it).
 */
export default fp(async (app) => {
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new BadRequestError('host_missing', 'an HTTP/1.1 request must send a Host header');
    }
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      throw new AppError(415, 'unsupported_content_encoding', `the body must not be compressed (Content-Encoding "${encoding.slice(0, 50)}"); send it as is`);
    }
  });
}, { name: 'protocol' });
