import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getModel, listModels, type ModelRecord } from '../../../db/model-queries.js';
import { predictWithModel } from '../../../http/predict.js';
import { HttpProblem, problems } from '../../../http/problem.js';
import { gatesPlotSvg, parityPlotSvg } from '../../../services/plots.js';
import { ModelCard, ModelList, ModelListQuery, ModelPredictBody, ModelRef, PredictionsResponse, SvgResponse } from './schema.js';

function card(m: ModelRecord) {
  const base = `/v1/models/${m.shipped ? m.name : m.id}`;
  return {
    id: m.id, name: m.name, property: m.property, unit: m.unit, shipped: m.shipped, inputKinds: m.inputKinds, experts: m.experts,
    metrics: Object.fromEntries(Object.entries(m.metrics).filter(([k]) => k !== 'parity' && k !== 'trainingElements')),
    config: m.config, checksum: m.checksum, version: m.version, datasetId: m.datasetId, splitId: m.splitId, jobId: m.jobId,
    createdAt: m.createdAt.toISOString(),
    links: { self: base, predict: `${base}/predict`, parity: `${base}/parity.svg`, gates: `${base}/gates.svg` },
  };
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const find = async (idOrName: string): Promise<ModelRecord> => {
    const m = await getModel(app.pg, idOrName);
    if (!m) throw new HttpProblem(404, 'model_not_found', `there is no model "${idOrName}"; GET /v1/models lists them`);
    return m;
  };

  app.get('/', {
    schema: { tags: ['models'], summary: 'Trained models, shipped ones first, newest first (paginated)', querystring: ModelListQuery, response: { 200: ModelList, ...problems(400) } },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const offset = request.query.offset ?? 0;
    const { items, total } = await listModels(app.pg, { property: request.query.property, limit, offset });
    return { items: items.map(card), total, limit, offset };
  });

  app.get('/:id', {
    schema: { tags: ['models'], summary: 'Model card: dataset, split, experts with learned gate weights, metrics, config, checksum', params: ModelRef, response: { 200: ModelCard, ...problems(400, 404) } },
  }, async (request) => card(await find(request.params.id)));

  app.get('/:id/parity.svg', {
    schema: { tags: ['models'], summary: 'Test-set predictions against targets (SVG)', params: ModelRef, produces: ['image/svg+xml'], response: { 200: SvgResponse, ...problems(400, 404) } },
  }, async (request, reply) => {
    const m = await find(request.params.id);
    const parity = (m.metrics.parity ?? { targets: [], predictions: [] }) as { targets: number[]; predictions: number[] };
    reply.type('image/svg+xml; charset=utf-8');
    return parityPlotSvg({ targets: parity.targets, predictions: parity.predictions, unit: m.unit, title: `${m.name}: ${m.property} (test set)` });
  });

  app.get('/:id/gates.svg', {
    schema: { tags: ['models'], summary: 'Learned gate weight of each expert (SVG)', params: ModelRef, produces: ['image/svg+xml'], response: { 200: SvgResponse, ...problems(400, 404) } },
  }, async (request, reply) => {
    const m = await find(request.params.id);
    reply.type('image/svg+xml; charset=utf-8');
    return gatesPlotSvg({ experts: m.experts, title: `${m.name}: which experts it trusts` });
  });

  app.post('/:id/predict', {
    schema: {
      tags: ['models'],
      summary: 'Predict with this model (1 to 1000 inputs, answered in input order)',
      params: ModelRef,
      body: ModelPredictBody,
      response: { 200: PredictionsResponse, ...problems(400, 404, 422) },
    },
  }, async (request) => predictWithModel(app, request.params.id, request.body.inputs));
};

export default routes;
