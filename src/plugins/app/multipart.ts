import multipart from '@fastify/multipart';
import fp from 'fastify-plugin';
import { DATASET_LIMITS } from '../../services/datasets.js';

/**
 * multipart/form-data for file uploads (datasets as CSV/JSONL). One file per request, a few short text fields;
 * the file limit is the dataset byte limit, so an oversized upload is cut off while streaming, not after buffering.
 */
export default fp(async (app) => {
  await app.register(multipart, {
    limits: {
      fileSize: DATASET_LIMITS.maxBytes,
      files: 1,
      fields: 10,
      fieldSize: 10_000,
      fieldNameSize: 100,
      parts: 11,
      headerPairs: 100,
    },
  });
}, { name: 'multipart' });
