/**
 * One model prediction for one material, defined once: the HTTP response schema, the batch output and the inference
 * threads' results all use this shape.
 */
import { Type, type Static } from 'typebox';

export const DEFAULT_COVERAGE = 0.9;

/**
 * How `uncertainty` and `interval` were obtained. 'split-conformal-ensemble': the members' spread scaled on validation
 * rows (calibrated, per material); 'ensemble-std' and 'test-mae' belong to models trained before calibration existed
 * (not calibrated, no interval).
 */
export const UNCERTAINTY_METHODS = ['split-conformal-ensemble', 'ensemble-std', 'test-mae', 'none'] as const;

export const CoverageSchema = Type.Number({
  minimum: 0.5, maximum: 0.99,
  description: `share of true values the returned intervals should hold (default ${DEFAULT_COVERAGE}); calibrated on validation rows`,
});

export const MaterialPredictionSchema = Type.Object({
  value: Type.Number({ description: 'predicted value in `unit` (physical units; never below the property\'s lower bound, e.g. 0 for a band gap)' }),
  unit: Type.String(),
  uncertainty: Type.Union([Type.Number(), Type.Null()], {
    description: 'standard deviation in `unit` for this material: half the width of its calibrated 68 % interval',
  }),
  // A pair as an array of two: OpenAPI 3.0, which the docs are written in, has no tuples.
  interval: Type.Union([Type.Array(Type.Number(), { minItems: 2, maxItems: 2 }), Type.Null()], { description: '[low, high] in `unit` expected to hold the true value with probability `coverage`' }),
  coverage: Type.Union([Type.Number(), Type.Null()], { description: 'the coverage `interval` was calibrated for' }),
  uncertaintyMethod: Type.Enum([...UNCERTAINTY_METHODS]),
  basis: Type.Enum(['structure', 'composition'], {
    description: 'which members answered: the crystal-structure mixture (the input had a structure and the model has one) or the composition mixture',
  }),
  formula: Type.String({ description: 'reduced formula' }),
  composition: Type.Record(Type.String(), Type.Number(), { description: 'atomic fractions' }),
  experts: Type.Array(Type.Object({ key: Type.String(), kind: Type.String(), weight: Type.Number() }), {
    description: 'the experts that answered this input, with their gate weights averaged over the members that answered, largest first',
  }),
  warnings: Type.Array(Type.String()),
});
export type MaterialPrediction = Static<typeof MaterialPredictionSchema>;
