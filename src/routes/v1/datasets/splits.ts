import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getDataset } from '../../../db/dataset-queries.js';
import { findSplitByHash, getSplit, insertSplit, listSplits, type SplitSummaryRecord } from '../../../db/split-queries.js';
import { HttpProblem, problems } from '../../../http/problem.js';
import { checkExplicitSplit, DEFAULT_FRACTIONS, randomSplit, SplitError, splitContentHash, type SplitIndices } from '../../../services/splits.js';
import { CreateSplitBody, DatasetIdParams, SplitDetail, SplitList, SplitParams, SplitSummary } from './schema.js';

function presentSplit(s: SplitSummaryRecord, nRows: number) {
  return {
    id: s.id, datasetId: s.datasetId, method: s.method, seed: s.seed, fractions: s.fractions, sizes: s.sizes,
    unassigned: nRows - s.sizes.train - s.sizes.val - s.sizes.test, contentHash: s.contentHash, createdAt: s.createdAt.toISOString(),
    links: { self: `/v1/datasets/${s.datasetId}/splits/${s.id}`, dataset: `/v1/datasets/${s.datasetId}` },
  };
}

function notFound(id: string): HttpProblem {
  return new HttpProblem(404, 'dataset_not_found', `there is no dataset ${id}`);
}

/** Splits live under their dataset: /v1/datasets/{id}/splits. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/:id/splits', {
    onRequest: app.requireApiKey,
    schema: {
      tags: ['datasets'],
      summary: 'Split a dataset into train/val/test: random (seed, fractions; default 70/15/15 as the paper) or explicit index lists',
      description:
        'Random: a mulberry32(seed) Fisher–Yates permutation; train = int(f_train·n) first rows of it, then val, then test (int() truncation ' +
        'as the paper, so 0–2 rows may be in no part). Explicit: integer row indices, in range, disjoint, train non-empty. ' +
        'The same index lists again answer 200 with the stored split.',
      security: [{ apiKey: [] }],
      params: DatasetIdParams,
      body: CreateSplitBody,
      response: { 200: SplitDetail, 201: SplitDetail, ...problems(400, 401, 404, 422) },
    },
  }, async (request, reply) => {
    const dataset = await getDataset(app.pg, request.params.id);
    if (!dataset) throw notFound(request.params.id);
    const body = request.body;
    let indices: SplitIndices;
    let seed: number | null = null;
    let fractions: number[] | null = null;
    try {
      if (body.method === 'random') {
        seed = body.seed ?? 0;
        fractions = body.fractions ?? [...DEFAULT_FRACTIONS];
        indices = randomSplit(dataset.nRows, seed, fractions);
      } else {
        indices = checkExplicitSplit(dataset.nRows, { train: body.train, val: body.val ?? [], test: body.test ?? [] });
      }
    } catch (err) {
      if (err instanceof SplitError) throw new HttpProblem(422, err.code, err.message, err.extra);
      throw err;
    }
    const contentHash = splitContentHash(indices);
    const respond = (status: 200 | 201, s: Parameters<typeof presentSplit>[0] & SplitIndices) =>
      reply.code(status).header('location', `/v1/datasets/${dataset.id}/splits/${s.id}`)
        .send({ ...presentSplit(s, dataset.nRows), train: s.train, val: s.val, test: s.test });

    const existing = await findSplitByHash(app.pg, dataset.id, contentHash);
    if (existing) return respond(200, existing);
    let created;
    try {
      created = await insertSplit(app.pg, { datasetId: dataset.id, method: body.method, seed, fractions, ...indices, contentHash });
    } catch (err) {
      // The dataset was deleted between our read and the insert.
      if ((err as { code?: string }).code === '23503') throw notFound(dataset.id);
      throw err;
    }
    if (created) return respond(201, created);
    const winner = await findSplitByHash(app.pg, dataset.id, contentHash);
    if (!winner) throw notFound(dataset.id);
    return respond(200, winner);
  });

  app.get('/:id/splits', {
    schema: {
      tags: ['datasets'],
      summary: 'The splits of a dataset, oldest first (sizes only; fetch one for its indices)',
      params: DatasetIdParams,
      response: { 200: SplitList, ...problems(400, 404) },
    },
  }, async (request) => {
    const dataset = await getDataset(app.pg, request.params.id);
    if (!dataset) throw notFound(request.params.id);
    const splits = await listSplits(app.pg, dataset.id);
    return { items: splits.map((s) => presentSplit(s, dataset.nRows)) };
  });

  app.get('/:id/splits/:splitId', {
    schema: {
      tags: ['datasets'],
      summary: 'One split with its train, val and test row indices',
      params: SplitParams,
      response: { 200: SplitDetail, ...problems(400, 404) },
    },
  }, async (request) => {
    const dataset = await getDataset(app.pg, request.params.id);
    if (!dataset) throw notFound(request.params.id);
    const s = await getSplit(app.pg, dataset.id, request.params.splitId);
    if (!s) throw new HttpProblem(404, 'split_not_found', `dataset ${dataset.id} has no split ${request.params.splitId}`);
    return { ...presentSplit(s, dataset.nRows), train: s.train, val: s.val, test: s.test };
  });
};

export default routes;
