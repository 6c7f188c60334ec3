import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { datasetUsage, deleteDataset, findDatasetByHash, getDataset, getDatasetRows, inputKindCounts, insertDataset, listDatasets, lockDataset, type DatasetRecord } from '../../../db/dataset-queries.js';
import { withTransaction } from '../../../db/pool.js';
import { HttpProblem, problems } from '../../../http/problem.js';
import {
  checkMeta, DATASET_LIMITS, DatasetError, parseUpload, prepareDatasetAsync,
  type DatasetErrorKind, type PreparedDataset, type UploadedFile,
} from '../../../services/datasets.js';
import {
  CreateDatasetJson, CreateDatasetMultipart, CreateDatasetResponse, DatasetDetail, DatasetIdParams, DatasetList, DetailQuery, ListQuery,
} from './schema.js';
import splitRoutes from './splits.js';

const STATUS: Readonly<Record<DatasetErrorKind, number>> = { request: 400, too_large: 413, unsupported: 415, invalid: 422 };

/** Multipart framing (boundaries, part headers, the text fields) on top of the file itself. */
const MULTIPART_OVERHEAD = 64 * 1024;

function asProblem(err: unknown): unknown {
  return err instanceof DatasetError ? new HttpProblem(STATUS[err.kind], err.code, err.message, err.extra) : err;
}

function presentDataset(d: DatasetRecord) {
  return {
    id: d.id, name: d.name, property: d.property, unit: d.unit, contentHash: d.contentHash, rowCount: d.nRows,
    inputKinds: d.inputKinds, targetStats: d.targetStats, createdAt: d.createdAt.toISOString(),
    links: { self: `/v1/datasets/${d.id}`, splits: `/v1/datasets/${d.id}/splits` },
  };
}

const MULTIPART_ERRORS: Readonly<Record<string, [number, string, string]>> = {
  FST_REQ_FILE_TOO_LARGE: [413, 'dataset_too_large', `the file is larger than ${DATASET_LIMITS.maxBytes} bytes`],
  FST_FILES_LIMIT: [400, 'multipart_too_many_files', 'send exactly one file'],
  FST_FIELDS_LIMIT: [400, 'multipart_too_many_fields', 'too many form fields; send name, property, unit, an optional format and one file'],
  FST_PARTS_LIMIT: [400, 'multipart_too_many_fields', 'too many form parts; send name, property, unit, an optional format and one file'],
  FST_PROTO_VIOLATION: [400, 'multipart_invalid', 'a form field name is not allowed'],
  FST_MP_PREMATURE_CLOSE: [400, 'multipart_invalid', 'the upload ended before the form was complete'],
};

async function readForm(request: FastifyRequest): Promise<{ fields: Record<string, string>; file: UploadedFile }> {
  const fields: Record<string, string> = {};
  let file: UploadedFile | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        file = { buffer: await part.toBuffer(), filename: part.filename, mimetype: part.mimetype };
      } else {
        if (part.valueTruncated) throw new HttpProblem(400, 'multipart_field_too_long', `the form field "${part.fieldname}" is too long`);
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    const mapped = MULTIPART_ERRORS[(err as { code?: string }).code ?? ''];
    if (mapped) throw new HttpProblem(mapped[0], mapped[1], mapped[2], mapped[1] === 'dataset_too_large' ? { limit: DATASET_LIMITS.maxBytes } : {});
    throw err;
  }
  if (!file) throw new HttpProblem(400, 'multipart_no_file', 'the form has no file: attach the rows as a CSV, JSONL or JSON file');
  return { fields, file };
}

/** Reads either body form into validated rows; throws DatasetError / HttpProblem before anything is stored. */
async function prepare(request: FastifyRequest): Promise<PreparedDataset> {
  if (request.isMultipart()) {
    const { fields, file } = await readForm(request);
    const meta = checkMeta(fields);
    const upload = parseUpload({ ...file, format: fields.format });
    return prepareDatasetAsync(meta, upload.rows, { fromText: upload.fromText, warnings: upload.warnings });
  }
  // Only the JSON body was checked against a schema; any other parsed body (text/plain) never reaches the rows.
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new HttpProblem(415, 'unsupported_media_type', `send the dataset as application/json or multipart/form-data, not "${mediaType || 'no content type'}"`);
  }
  const body = request.body as CreateDatasetJson;
  return prepareDatasetAsync(body, body.rows.map((value) => ({ value })));
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // Autoload loads only index.ts from a folder that has one, so the nested /:id/splits routes are registered here.
  await app.register(splitRoutes);

  app.post('/', {
    bodyLimit: DATASET_LIMITS.maxBytes,
    // The key first, then refuse an oversized upload from its Content-Length: both before the body is read.
    onRequest: [app.requireApiKey, async (request) => {
      const length = Number(request.headers['content-length'] ?? 0);
      if (length > DATASET_LIMITS.maxBytes + MULTIPART_OVERHEAD || (length > DATASET_LIMITS.maxBytes && !request.isMultipart())) {
        throw new HttpProblem(413, 'dataset_too_large', `the upload has ${length} bytes; at most ${DATASET_LIMITS.maxBytes} are accepted`, { limit: DATASET_LIMITS.maxBytes });
      }
    }],
    schema: {
      tags: ['datasets'],
      summary: 'Upload a dataset (JSON rows, or a CSV/JSONL file as multipart/form-data); identical content returns the stored dataset',
      description:
        'Every row is validated; if any is bad the answer is 422 `invalid_rows` listing every bad row (index, code, message) and nothing is stored. ' +
        `Limits: ${DATASET_LIMITS.maxRows} rows (413 \`dataset_too_many_rows\`), ${DATASET_LIMITS.maxBytes} bytes (413 \`dataset_too_large\`). ` +
        'Stored immutably under a content hash: uploading the same content again answers 200 with the existing dataset.',
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
    let prepared: PreparedDataset;
    try {
      prepared = await prepare(request);
    } catch (err) {
      throw asProblem(err);
    }
    const respond = (status: 200 | 201, d: DatasetRecord) =>
      reply.code(status).header('location', `/v1/datasets/${d.id}`).send({ ...presentDataset(d), warnings: prepared.warnings });

    const existing = await findDatasetByHash(app.pg, prepared.contentHash);
    if (existing) return respond(200, existing);
    try {
      const created = await withTransaction(app.pg, (client) => insertDataset(client, prepared));
      return respond(201, created);
    } catch (err) {
      // The same content uploaded concurrently: the loser answers with the winner's dataset.
      if ((err as { code?: string }).code === '23505') {
        const winner = await findDatasetByHash(app.pg, prepared.contentHash);
        if (winner) return respond(200, winner);
      }
      throw err;
    }
  });

  app.get('/', {
    schema: {
      tags: ['datasets'],
      summary: 'List datasets, newest first',
      querystring: ListQuery,
      response: { 200: DatasetList, ...problems(400) },
    },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const offset = request.query.offset ?? 0;
    const { items, total } = await listDatasets(app.pg, limit, offset);
    const links: { next?: string; prev?: string } = {};
    if (offset + items.length < total) links.next = `/v1/datasets?limit=${limit}&offset=${offset + limit}`;
    if (offset > 0) links.prev = `/v1/datasets?limit=${limit}&offset=${Math.max(0, offset - limit)}`;
    return { items: items.map(presentDataset), total, limit, offset, links };
  });

  app.get('/:id', {
    schema: {
      tags: ['datasets'],
      summary: 'A dataset: metadata, target statistics, input kinds and a page of its rows',
      params: DatasetIdParams,
      querystring: DetailQuery,
      response: { 200: DatasetDetail, ...problems(400, 404) },
    },
  }, async (request) => {
    const d = await getDataset(app.pg, request.params.id);
    if (!d) throw new HttpProblem(404, 'dataset_not_found', `there is no dataset ${request.params.id}`);
    const limit = request.query.rowsLimit ?? 100;
    const offset = request.query.rowsOffset ?? 0;
    const [rows, counts] = await Promise.all([
      limit > 0 ? getDatasetRows(app.pg, d.id, limit, offset) : Promise.resolve([]),
      inputKindCounts(app.pg, d.id),
    ]);
    return {
      ...presentDataset(d),
      inputKindCounts: counts,
      rows: {
        items: rows.map((r) => ({ index: r.index, kind: r.kind, input: r.input, formula: r.formula, target: r.target, ...(r.externalId !== null ? { id: r.externalId } : {}) })),
        total: d.nRows, limit, offset,
      },
    };
  });

  app.delete('/:id', {
    onRequest: app.requireApiKey,
    schema: {
      tags: ['datasets'],
      summary: 'Delete a dataset with its splits (409 while a model, or a queued or running job, uses it)',
      security: [{ apiKey: [] }],
      params: DatasetIdParams,
      response: { 204: Type.Null({ description: 'deleted' }), ...problems(400, 401, 404, 409) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    await withTransaction(app.pg, async (client) => {
      if (!(await lockDataset(client, id))) throw new HttpProblem(404, 'dataset_not_found', `there is no dataset ${id}`);
      const usage = await datasetUsage(client, id);
      if (usage.models.length > 0 || usage.jobs.length > 0) {
        const what = [
          usage.models.length > 0 ? `model(s) ${usage.models.join(', ')}` : '',
          usage.jobs.length > 0 ? `queued or running job(s) ${usage.jobs.join(', ')}` : '',
        ].filter(Boolean).join(' and ');
        throw new HttpProblem(409, 'dataset_in_use', `dataset ${id} is used by ${what}; delete the models or wait for the jobs first`, usage);
      }
      await deleteDataset(client, id);
    });
    return reply.code(204).send(null);
  });
};

export default routes;
