import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { SplitSummaryRecord } from '../../../db/split-queries.js';
import { problems } from '../../../http/problem.js';
import { CreateSplitBody, DatasetIdParams, SplitDetail, SplitList, SplitParams } from './schema.js';

function presentSplit(s: SplitSummaryRecord, nRows: number) {
  return {
    id: s.id, datasetId: s.datasetId, method: s.method, seed: s.seed, fractions: s.fractions, sizes: s.sizes,
    unassigned: nRows - s.sizes.train - s.sizes.val - s.sizes.test, contentHash: s.contentHash, createdAt: s.createdAt.toISOString(),
    links: { self: `/v1/datasets/${s.datasetId}/splits/${s.id}`, dataset: `/v1/datasets/${s.datasetId}` },
  };
}

/** Splits live under their dataset: /v1/datasets/{id}/splits. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/:id/splits', {
    onRequest: app.requirePrincipal,
    schema: {
      tags: ['datasets'],
      summary: 'Split a dataset into train/val/test: random (seed, fractions; default 70/15/15 with seed 0, as the paper) or explicit index lists',
      description:
        'Random (the default when `method` is left out): a mulberry32(seed) Fisher–Yates permutation; train = int(f_train·n) first rows of it, then ' +
        'val, then test (int() truncation as the paper, so 0–2 rows may be in no part). Explicit: integer row indices, in range, disjoint, train ' +
        'non-empty. The same index lists again answer 200 with the stored split.',
      security: [{ apiKey: [] }],
      params: DatasetIdParams,
      body: CreateSplitBody,
      response: { 200: SplitDetail, 201: SplitDetail, ...problems(400, 401, 404, 422) },
    },
  }, async (request, reply) => {
    const { dataset, split, created } = await app.splits.create(request.principal, request.params.id, request.body);
    return reply.code(created ? 201 : 200).header('location', `/v1/datasets/${dataset.id}/splits/${split.id}`)
      .send({ ...presentSplit(split, dataset.nRows), train: split.train, val: split.val, test: split.test });
  });

  app.get('/:id/splits', {
    schema: {
      tags: ['datasets'],
      summary: 'The splits of a dataset, oldest first (sizes only; fetch one for its indices)',
      params: DatasetIdParams,
      response: { 200: SplitList, ...problems(400, 401, 404) },
    },
  }, async (request) => {
    const { dataset, splits } = await app.splits.list(request.principal, request.params.id);
    return { items: splits.map((s) => presentSplit(s, dataset.nRows)) };
  });

  app.get('/:id/splits/:splitId', {
    schema: {
      tags: ['datasets'],
      summary: 'One split with its train, val and test row indices',
      params: SplitParams,
      response: { 200: SplitDetail, ...problems(400, 401, 404) },
    },
  }, async (request) => {
    const { dataset, split } = await app.splits.get(request.principal, request.params.id, request.params.splitId);
    return { ...presentSplit(split, dataset.nRows), train: split.train, val: split.val, test: split.test };
  });
};

export default routes;
