import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problems } from '../../../http/problem.js';
import { PREDICT_BODY_LIMIT } from '../../../http/inputs.js';
import { PredictBody, PredictionsResponse } from '../models/schema.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/', {
    bodyLimit: PREDICT_BODY_LIMIT,
    onRequest: app.shedWhenBacklogged,
    schema: {
      tags: ['models'],
      summary: 'Predict a property for 1 to 1000 materials with a trained model (answers in input order)',
      body: PredictBody,
      response: { 200: PredictionsResponse, ...problems(400, 401, 404, 422) },
    },
  }, async (request) => {
    const { model, predictions } = await app.models.predict(request.principal, request.body.model, request.body.inputs, request.body.coverage);
    app.metrics.predictions.inc({ model: model.name, kind: 'model' }, predictions.length);
    return { model: model.name, property: model.property, unit: model.unit, predictions };
  });
};

export default routes;
