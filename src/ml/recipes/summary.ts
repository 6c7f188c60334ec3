/**
 * What a model card or a job record keeps of a candidate recipe: plain JSON (no weights), enough to say which recipe
 * was chosen among which candidates on what validation MAE.
 */
import type { Recipe } from './candidates.js';
import type { CandidateResult } from './split-ensemble.js';

/** A candidate without its weights: the recipe and its run (validation MAE in physical units). */
export type CandidateSummary = Recipe & Omit<CandidateResult, 'recipe' | 'model' | 'valRaw'>;

export function candidateSummary(c: CandidateResult): CandidateSummary {
  const { recipe, model: _model, valRaw: _valRaw, ...run } = c;
  return { ...recipe, ...run };
}
