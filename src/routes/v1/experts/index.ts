import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ExpertRecord } from '../../../db/expert-queries.js';
import { problems } from '../../../http/problem.js';
import { InputsBody, PREDICT_BODY_LIMIT } from '../../../http/inputs.js';
import { ExpertDetail, ExpertKeyParams, ExpertList, ExpertListQuery, ExpertPredictResponse } from './schema.js';

function summary(e: ExpertRecord) {
  return {
    key: e.key, kind: e.kind, property: e.property, unit: e.unit, sourceDataset: e.sourceDataset, validationMae: e.valMae,
    architecture: e.architecture, sha256: e.sha256, links: { self: `/v1/experts/${e.key}`, predict: `/v1/experts/${e.key}/predict` },
  };
}

/** The pre-trained experts are public. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: { tags: ['experts'], summary: 'The pre-trained experts a mixture can draw on', querystring: ExpertListQuery, response: { 200: ExpertList, ...problems(400) } },
  }, async (request) => {
    const experts = await app.experts.list(request.query.kind);
    return { items: experts.map(summary), total: experts.length };
  });

  app.get('/:key', {
    schema: { tags: ['experts'], summary: 'One expert with its full card', params: ExpertKeyParams, response: { 200: ExpertDetail, ...problems(400, 404) } },
  }, async (request) => {
    const e = await app.experts.get(request.params.key);
    return { ...summary(e), card: e.card };
  });

  app.post('/:key/predict', {
    bodyLimit: PREDICT_BODY_LIMIT,
    onRequest: app.shedWhenBacklogged,
    schema: {
      tags: ['experts'],
      summary: 'Run one expert on its own source property (1 to 1000 inputs, answered in input order)',
      params: ExpertKeyParams,
      body: InputsBody,
      response: { 200: ExpertPredictResponse, ...problems(400, 404, 422) },
    },
  }, async (request) => {
    const { expert, predictions } = await app.experts.predict(request.params.key, request.body.inputs);
    app.metrics.predictions.inc({ model: `expert:${expert.key}`, kind: 'expert' }, predictions.length);
    return { expert: expert.key, property: expert.property, unit: expert.unit, predictions };
  });
};

export default routes;
