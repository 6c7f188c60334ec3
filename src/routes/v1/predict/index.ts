import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { predictWithModel } from '../../../http/predict.js';
import { problems } from '../../../http/problem.js';
import { PredictBody, PredictionsResponse } from '../models/schema.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/', {
    schema: {
      tags: ['models'],
      summary: 'Predict a property for 1 to 1000 materials with a trained model (answers in input order)',
      body: PredictBody,
      response: { 200: PredictionsResponse, ...problems(400, 404, 422) },
    },
  }, async (request) => predictWithModel(app, request.body.model, request.body.inputs));
};

export default routes;
