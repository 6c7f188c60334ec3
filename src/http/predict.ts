import type { FastifyInstance } from 'fastify';
import type { MaterialInput } from '../chem/input.js';
import { InvalidInputsError } from '../chem/resolve-inputs.js';
import { HttpProblem } from './problem.js';

/** Shared by POST /v1/predict and POST /v1/models/{id}/predict. */
export async function predictWithModel(app: FastifyInstance, idOrName: string, inputs: readonly unknown[]) {
  const model = await app.models.resolve(idOrName);
  if (!model) throw new HttpProblem(404, 'model_not_found', `there is no model "${idOrName}"; GET /v1/models lists them`);
  try {
    const predictions = await app.models.predict(model, inputs as MaterialInput[]);
    app.metrics.predictions.inc({ model: model.record.name, kind: 'model' }, predictions.length);
    return { model: model.record.name, property: model.record.property, unit: model.record.unit, predictions };
  } catch (err) {
    if (err instanceof InvalidInputsError) throw new HttpProblem(422, 'invalid_input', err.message, { errors: err.problems });
    throw err;
  }
}
