import multipart from '@fastify/multipart';
import fp from 'fastify-plugin';
import { AppError, BadRequestError } from '../../errors.js';
import { DATASET_LIMITS, TooLargeError, type UploadedFile } from '../../services/datasets/limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The form fields and the one file of a multipart/form-data upload; a malformed form is a 400/413 problem. */
    readUpload(): Promise<{ fields: Record<string, string>; file: UploadedFile }>;
  }
}

/** @fastify/multipart's limit errors, as the client should read them. */
const LIMIT_ERRORS: Readonly<Record<string, () => AppError>> = {
  FST_REQ_FILE_TOO_LARGE: () => new TooLargeError('dataset_too_large', `the file is larger than ${DATASET_LIMITS.maxBytes} bytes`, { limit: DATASET_LIMITS.maxBytes }),
  FST_FILES_LIMIT: () => new BadRequestError('multipart_too_many_files', 'send exactly one file'),
  FST_FIELDS_LIMIT: () => new BadRequestError('multipart_too_many_fields', 'too many form fields; send name, property, unit, an optional format and visibility, and one file'),
  FST_PARTS_LIMIT: () => new BadRequestError('multipart_too_many_fields', 'too many form parts; send name, property, unit, an optional format and visibility, and one file'),
  FST_PROTO_VIOLATION: () => new BadRequestError('multipart_invalid', 'a form field name is not allowed'),
};

/**
 * multipart/form-data for file uploads (datasets as CSV/JSONL/JSON). One file per request and a few short text fields;
 * the file limit is the dataset byte limit, so an oversized upload is cut off while streaming, not after buffering.
 * Whatever else goes wrong while reading the form (no or wrong boundary, a truncated body) is the client's malformed
 * upload: a 400 naming it.
 */
export default fp(async (app) => {
  await app.register(multipart, {
    limits: { fileSize: DATASET_LIMITS.maxBytes, files: 1, fields: 10, fieldSize: 10_000, fieldNameSize: 100, parts: 11, headerPairs: 100 },
  });
  app.decorateRequest('readUpload', async function readUpload(this: import('fastify').FastifyRequest) {
    const fields: Record<string, string> = {};
    let file: UploadedFile | undefined;
    try {
      for await (const part of this.parts()) {
        if (part.type === 'file') {
          file = { buffer: await part.toBuffer(), filename: part.filename, mimetype: part.mimetype };
        } else {
          if (part.valueTruncated) throw new BadRequestError('multipart_field_too_long', `the form field "${part.fieldname}" is too long`);
          fields[part.fieldname] = String(part.value);
        }
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      const limit = LIMIT_ERRORS[(err as { code?: string }).code ?? ''];
      if (limit) throw limit();
      throw new BadRequestError('multipart_invalid', `the multipart/form-data body cannot be read (${(err as Error).message}); send a complete form with its boundary`);
    }
    if (!file) throw new BadRequestError('multipart_no_file', 'the form has no file: attach the rows as a CSV, JSONL or JSON file');
    return { fields, file };
  });
}, { name: 'multipart' });
