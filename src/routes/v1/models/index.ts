import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ModelRecord } from '../../../db/model-queries.js';
import { problems } from '../../../http/problem.js';
import { PREDICT_BODY_LIMIT } from '../../../http/inputs.js';
import { blendSummary, calibrationSummary } from '../../../services/model-calibration.js';
import { VisibilityBody } from '../datasets/schema.js';
import { ModelCard, ModelList, ModelListQuery, ModelPredictBody, ModelRef, PredictionsResponse, SvgResponse } from './schema.js';

export function presentModel(m: ModelRecord, viewer: string | null) {
  const base = `/v1/models/${m.shipped ? m.name : m.id}`;
  return {
    id: m.id, name: m.name, property: m.property, unit: m.unit, shipped: m.shipped, visibility: m.visibility, mine: m.owner !== null && m.owner === viewer,
    inputKinds: m.inputKinds, experts: m.experts,
    metrics: {
      ...Object.fromEntries(Object.entries(m.metrics).filter(([k]) => k !== 'parity' && k !== 'trainingElements' && k !== 'calibration' && k !== 'blend')),
      ...('calibration' in m.metrics ? { calibration: calibrationSummary(m.metrics) } : {}),
      ...(m.metrics.blend ? { blend: blendSummary(m.metrics) } : {}),
    },
    config: m.config, checksum: m.checksum, version: m.version, datasetId: m.datasetId, splitId: m.splitId, jobId: m.jobId,
    createdAt: m.createdAt.toISOString(),
    links: { self: base, predict: `${base}/predict`, parity: `${base}/parity.svg`, gates: `${base}/gates.svg` },
  };
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: {
      tags: ['models'], summary: 'Models you can use: shipped ones first, then yours and published ones, newest first (paginated)',
      querystring: ModelListQuery, response: { 200: ModelList, ...problems(400, 401) },
    },
  }, async (request) => {
    const limit = request.query.limit ?? 20;
    const offset = request.query.offset ?? 0;
    const { items, total } = await app.models.list(request.principal, { property: request.query.property, limit, offset });
    return { items: items.map((m) => presentModel(m, request.principal)), total, limit, offset };
  });

  app.get('/:id', {
    schema: { tags: ['models'], summary: 'Model card: dataset, split, experts with learned gate weights, metrics, config, checksum', params: ModelRef, response: { 200: ModelCard, ...problems(400, 401, 404) } },
  }, async (request) => presentModel(await app.models.get(request.principal, request.params.id), request.principal));

  app.patch('/:id', {
    onRequest: app.requirePrincipal,
    schema: {
      tags: ['models'], summary: 'Publish your model (visibility "public": everyone can read its card and predict with it) or make it private again',
      security: [{ apiKey: [] }], params: ModelRef, body: VisibilityBody, response: { 200: ModelCard, ...problems(400, 401, 404) },
    },
  }, async (request) => presentModel(await app.models.setVisibility(request.principal!, request.params.id, request.body.visibility), request.principal));

  app.get('/:id/parity.svg', {
    schema: { tags: ['models'], summary: 'Test-set predictions against targets (SVG)', params: ModelRef, produces: ['image/svg+xml'], response: { 200: SvgResponse, ...problems(400, 401, 404) } },
  }, async (request, reply) => {
    const svg = await app.models.parityPlot(request.principal, request.params.id);
    return reply.type('image/svg+xml; charset=utf-8').send(svg);
  });

  app.get('/:id/gates.svg', {
    schema: { tags: ['models'], summary: 'Learned gate weight of each expert (SVG)', params: ModelRef, produces: ['image/svg+xml'], response: { 200: SvgResponse, ...problems(400, 401, 404) } },
  }, async (request, reply) => {
    const svg = await app.models.gatesPlot(request.principal, request.params.id);
    return reply.type('image/svg+xml; charset=utf-8').send(svg);
  });

  app.post('/:id/predict', {
    bodyLimit: PREDICT_BODY_LIMIT,
    onRequest: app.shedWhenBacklogged,
    schema: {
      tags: ['models'],
      summary: 'Predict with this model (1 to 1000 inputs, answered in input order)',
      params: ModelRef,
      body: ModelPredictBody,
      response: { 200: PredictionsResponse, ...problems(400, 401, 404, 422) },
    },
  }, async (request) => {
    const { model, predictions } = await app.models.predict(request.principal, request.params.id, request.body.inputs, request.body.coverage);
    app.metrics.predictions.inc({ model: model.name, kind: 'model' }, predictions.length);
    return { model: model.name, property: model.property, unit: model.unit, predictions };
  });
};

export default routes;
