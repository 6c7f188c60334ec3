import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MaterialInput } from '../../../chem/input.js';
import { getExpert, listExperts, type ExpertRecord } from '../../../db/expert-queries.js';
import { InputsBody } from '../../../http/inputs.js';
import { HttpProblem, problems } from '../../../http/problem.js';
import { InvalidInputsError } from '../../../chem/resolve-inputs.js';
import { ExpertDetail, ExpertKeyParams, ExpertList, ExpertListQuery, ExpertPredictResponse } from './schema.js';

function summary(e: ExpertRecord) {
  return {
    key: e.key, kind: e.kind, property: e.property, unit: e.unit, sourceDataset: e.sourceDataset, validationMae: e.valMae,
    architecture: e.architecture, sha256: e.sha256, links: { self: `/v1/experts/${e.key}`, predict: `/v1/experts/${e.key}/predict` },
  };
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: { tags: ['experts'], summary: 'The pre-trained experts a mixture can draw on', querystring: ExpertListQuery, response: { 200: ExpertList, ...problems(400) } },
  }, async (request) => {
    const experts = await listExperts(app.pg, request.query.kind);
    return { items: experts.map(summary), total: experts.length };
  });

  app.get('/:key', {
    schema: { tags: ['experts'], summary: 'One expert with its full card', params: ExpertKeyParams, response: { 200: ExpertDetail, ...problems(400, 404) } },
  }, async (request) => {
    const e = await getExpert(app.pg, request.params.key);
    if (!e) throw new HttpProblem(404, 'expert_not_found', `there is no expert "${request.params.key}"; GET /v1/experts lists them`);
    return { ...summary(e), card: e.card };
  });

  app.post('/:key/predict', {
    schema: {
      tags: ['experts'],
      summary: 'Run one expert on its own source property (1 to 1000 inputs, answered in input order)',
      params: ExpertKeyParams,
      body: InputsBody,
      response: { 200: ExpertPredictResponse, ...problems(400, 404, 422) },
    },
  }, async (request) => {
    const { key } = request.params;
    const e = await getExpert(app.pg, key);
    if (!e || !app.experts.has(key)) throw new HttpProblem(404, 'expert_not_found', `there is no expert "${key}"; GET /v1/experts lists them`);
    try {
      const predictions = await app.experts.predict(key, request.body.inputs as MaterialInput[]);
      app.metrics.predictions.inc({ model: `expert:${key}`, kind: 'expert' }, predictions.length);
      return { expert: key, property: e.property, unit: e.unit, predictions };
    } catch (err) {
      if (err instanceof InvalidInputsError) throw new HttpProblem(422, 'invalid_input', err.message, { errors: err.problems });
      throw err;
    }
  });
};

export default routes;
