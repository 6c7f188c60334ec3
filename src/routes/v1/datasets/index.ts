import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { DatasetRecord } from '../../../db/dataset-queries.js';
import { AppError } from '../../../errors.js';
import { problems } from '../../../http/problem.js';
import { DATASET_LIMITS, TooLargeError } from '../../../services/datasets/limits.js';
import {
  CreateDatasetJson, CreateDatasetMultipart, CreateDatasetResponse, DatasetDetail, DatasetIdParams, DatasetList, DatasetSummary, DetailQuery, ListQuery, VisibilityBody,
} from './schema.js';
import splitRoutes from './splits.js';

/** Multipart framing (boundaries, part headers, the text fields) on top of the file itself. */
const MULTIPART_OVERHEAD = 64 * 1024;

export function presentDataset(d: DatasetRecord, viewer: string | null) {
  return {
    id: d.id, visibility: d.visibility, mine: d.owner === viewer, name: d.name, property: d.property, unit: d.unit, contentHash: d.contentHash,
    rowCount: d.nRows, inputKinds: d.inputKinds, labelled: d.labelled, targetStats: d.targetStats, createdAt: d.createdAt.toISOString(),
    links: { self: `/v1/datasets/${d.id}`, splits: `/v1/datasets/${d.id}/splits` },
  };
}

/** Refuses an oversized upload from its Content-Length, before the body is read. */
async function checkLength(request: FastifyRequest): Promise<void> {
  const length = Number(request.headers['content-length'] ?? 0);
  if (length > DATASET_LIMITS.maxBytes + MULTIPART_OVERHEAD || (length > DATASET_LIMITS.maxBytes && !request.isMultipart())) {
    throw new TooLargeError('dataset_too_large', `the upload has ${length} bytes; at most ${DATASET_LIMITS.maxBytes} are accepted`, { limit: DATASET_LIMITS.maxBytes });
  }
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // Autoload loads only index.ts from a folder that has one, so the nested /:id/splits routes are registered here.
  await app.register(splitRoutes);

  app.post('/', {
    bodyLimit: DATASET_LIMITS.maxBytes,
    // The key first, then the declared length: both before the body is read.
    onRequest: [app.requirePrincipal, checkLength],
    schema: {
      tags: ['datasets'],
      summary: 'Upload a dataset (JSON rows, or a CSV/JSONL file as multipart/form-data); identical content returns your stored dataset',
      description:
        'Every row is validated; if any is bad the answer is 422 `invalid_rows` listing every bad row (index, code, message) and nothing is stored. ' +
        `Limits: ${DATASET_LIMITS.maxRows} rows (413 \`dataset_too_many_rows\`), ${DATASET_LIMITS.maxBytes} bytes (413 \`dataset_too_large\`). ` +
        'Stored immutably under a content hash: uploading the same content again answers 200 with your existing dataset. ' +
        'A dataset is private to your API key unless `visibility` is "public".',
      security: [{ apiKey: [] }],
      body: {
        content: {
          'application/json': { schema: CreateDatasetJson },
          'multipart/form-data': { schema: CreateDatasetMultipart },
        },
      },
      response: { 200: CreateDatasetResponse, 201: CreateDatasetResponse, ...problems(400, 401, 413, 415, 422) },
    },
  }, async (request, reply) => {
    const owner = request.principal!;
    let stored;
    if (request.isMultipart()) {
      const { fields, file } = await request.readUpload();
      stored = await app.datasets.createFromUpload(owner, fields, file);
    } else {
      // Only a JSON body was checked against the schema; any other parsed body (text/plain) never reaches the rows.
      const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (mediaType !== 'application/json') {
        throw new AppError(415, 'unsupported_media_type', `send the dataset as application/json or multipart/form-data, not "${mediaType || 'no content type'}"`);
      }
      const { rows, ...meta } = request.body as CreateDatasetJson;
      stored = await app.datasets.createFromRows(owner, meta, rows);
    }
    return reply.code(stored.created ? 201 : 200).header('location', `/v1/datasets/${stored.dataset.id}`)
      .send({ ...presentDataset(stored.dataset, owner), warnings: stored.warnings });
  });

  app.get('/', {
    schema: {
      tags: ['datasets'],
      summary: 'List the datasets you can read (yours and published ones), newest first',
      querystring: ListQuery,
      response: { 200: DatasetList, ...problems(400, 401) },
    },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const offset = request.query.offset ?? 0;
    const { items, total } = await app.datasets.list(request.principal, limit, offset);
    const links: { next?: string; prev?: string } = {};
    if (offset + items.length < total) links.next = `/v1/datasets?limit=${limit}&offset=${offset + limit}`;
    if (offset > 0) links.prev = `/v1/datasets?limit=${limit}&offset=${Math.max(0, offset - limit)}`;
    return { items: items.map((d) => presentDataset(d, request.principal)), total, limit, offset, links };
  });

  app.get('/:id', {
    schema: {
      tags: ['datasets'],
      summary: 'A dataset: metadata, target statistics, input kinds and a page of its rows',
      params: DatasetIdParams,
      querystring: DetailQuery,
      response: { 200: DatasetDetail, ...problems(400, 401, 404) },
    },
  }, async (request) => {
    const d = await app.datasets.get(request.principal, request.params.id);
    const limit = request.query.rowsLimit ?? 100;
    const offset = request.query.rowsOffset ?? 0;
    const { rows, kinds } = await app.datasets.rows(d, limit, offset);
    return {
      ...presentDataset(d, request.principal),
      inputKindCounts: kinds,
      rows: {
        items: rows.map((r) => ({ index: r.index, kind: r.kind, input: r.input, formula: r.formula, target: r.target, ...(r.externalId !== null ? { id: r.externalId } : {}) })),
        total: d.nRows, limit, offset,
      },
    };
  });

  app.patch('/:id', {
    onRequest: app.requirePrincipal,
    schema: {
      tags: ['datasets'],
      summary: 'Publish your dataset (visibility "public": everyone can read it and fine-tune on it) or make it private again',
      security: [{ apiKey: [] }],
      params: DatasetIdParams,
      body: VisibilityBody,
      response: { 200: DatasetSummary, ...problems(400, 401, 404) },
    },
  }, async (request) => {
    const d = await app.datasets.setVisibility(request.principal!, request.params.id, request.body.visibility);
    return presentDataset(d, request.principal);
  });

  app.delete('/:id', {
    onRequest: app.requirePrincipal,
    schema: {
      tags: ['datasets'],
      summary: 'Delete your dataset with its splits (409 while a model, or a queued or running job, uses it)',
      security: [{ apiKey: [] }],
      params: DatasetIdParams,
      response: { 204: Type.Null({ description: 'deleted' }), ...problems(400, 401, 404, 409) },
    },
  }, async (request, reply) => {
    await app.datasets.delete(request.principal!, request.params.id);
    return reply.code(204).send(null);
  });
};

export default routes;
