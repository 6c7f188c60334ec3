/**
 * The experimental band-gap benchmarks' training call (the matbench benchmark and the textbook hold-out both call
 * `trainGapMixture`), the leakage rule's expert filter and the budget options. The shipped expt_bandgap model
 * (scripts/zoo-expt-gap.ts) is a calibrated split ensemble instead (src/ml/recipes/split-ensemble.ts), whose
 * `composition/probe/l1/none` candidate is this recipe (plus outputs clamped at 0 eV).
 *
 * Today's recipe is the composition default of fine-tuning: the composition experts the leakage rule allows for
 * expt_bandgap, top-k of a gate that starts from ridge probes, the L1 loss (`trainingDefaults`), seeded gate ties.
 */
import type { ExpertWeights, ExpertInput } from '../../src/ml/experts/expert-kind.js';
import { allowedExperts } from '../../src/ml/experts/leakage.js';
import { predictMixture, type MixtureModel } from '../../src/ml/mixture/model.js';
import { trainMixture } from '../../src/ml/mixture/trainer.js';
import { trainingDefaults } from '../../src/services/fine-tune/admit.js';

/** The task whose leakage rule and quantity these models share: the experimental band gap. */
export const GAP_TASK = 'expt_bandgap';

export interface GapRecipe {
  k: number;
  epochs: number;
  patience: number;
  seed: number;
}

/** Fine-tuning's defaults (1000 epochs, patience 500, k = 2); docs/expt-gaps.md measures shorter runs against them. */
export const DEFAULT_GAP_RECIPE: Omit<GapRecipe, 'seed'> = { k: 2, epochs: 1000, patience: 500 };

/** The recipe's command-line options (node:util parseArgs), shared by the scripts that train band-gap models. */
export const RECIPE_OPTIONS = {
  epochs: { type: 'string', default: String(DEFAULT_GAP_RECIPE.epochs) },
  patience: { type: 'string', default: String(DEFAULT_GAP_RECIPE.patience) },
  k: { type: 'string', default: String(DEFAULT_GAP_RECIPE.k) },
} as const;

export function recipeFromOptions(values: { epochs?: string; patience?: string; k?: string }): Omit<GapRecipe, 'seed'> {
  const recipe = { k: Number(values.k ?? DEFAULT_GAP_RECIPE.k), epochs: Number(values.epochs ?? DEFAULT_GAP_RECIPE.epochs), patience: Number(values.patience ?? DEFAULT_GAP_RECIPE.patience) };
  for (const [name, v] of Object.entries(recipe)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer (got ${v})`);
  return recipe;
}

export interface GapData {
  formulas: readonly string[];
  /** eV. */
  targets: ArrayLike<number>;
  /** Indices into formulas; test may be empty. */
  split: { train: readonly number[]; val: readonly number[]; test: readonly number[] };
}

export interface GapTrainResult {
  model: MixtureModel;
  valMae: number;
  testMae: number | null;
  trainMae: number;
  bestEpoch: number;
  epochsRun: number;
  seconds: number;
  /** Predictions for split.test, in its order. */
  testPredictions: number[];
  /** Validation MAE after each epoch (to check where a shorter budget would have stopped). */
  valCurve: number[];
  experts: string[];
}

/** The experts a band-gap model may use: the shipped composition experts minus those that hold the target. */
export function gapExperts<T extends ExpertWeights>(shipped: readonly T[]): T[] {
  const kinds = new Set(shipped.map((e) => e.kind));
  if (kinds.size !== 1 || !kinds.has('composition')) throw new Error(`band-gap models use composition experts only (got kinds ${[...kinds].join(', ')})`);
  return allowedExperts(GAP_TASK, shipped);
}

export async function trainGapMixture(data: GapData, recipe: GapRecipe, experts: readonly ExpertWeights[]): Promise<GapTrainResult> {
  const t0 = performance.now();
  const inputs: ExpertInput[] = data.formulas.map((formula) => ({ formula }));
  const defaults = trainingDefaults(experts.map((e) => e.kind));
  const r = await trainMixture(
    { inputs, targets: data.targets, split: data.split },
    { experts: experts.map((e) => e.key), k: Math.min(recipe.k, experts.length), epochs: recipe.epochs, patience: recipe.patience, seed: recipe.seed, gateTieBreak: 'seeded', loss: defaults.loss, gateInit: defaults.gateInit },
    { experts },
  );
  const testPredictions = data.split.test.length > 0 ? Array.from(predictMixture(r.model, data.split.test.map((i) => inputs[i]))) : [];
  return {
    model: r.model, valMae: r.valMae, testMae: r.testMae, trainMae: r.trainMae, bestEpoch: r.bestEpoch + 1, epochsRun: r.epochsRun,
    seconds: (performance.now() - t0) / 1000, testPredictions, valCurve: r.history.map((h) => h.valMae), experts: experts.map((e) => e.key),
  };
}
