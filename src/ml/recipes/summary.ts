/**
 * What a model card or a job record keeps of a split ensemble: plain JSON (no weights), enough to say which recipe
 * was chosen among which candidates on what validation MAE, how the answers are bounded and calibrated.
 */
import type { Basis } from '../mixture/output.js';
import type { Calibration } from '../uncertainty/calibration.js';
import type { Recipe, SkippedRecipe } from './candidates.js';
import type { CandidateResult, SplitEnsemble } from './split-ensemble.js';
import type { TargetProfile } from './target-profile.js';

/** A candidate without its weights: the recipe and its run (validation MAE in physical units). */
export type CandidateSummary = Recipe & Omit<CandidateResult, 'recipe' | 'model' | 'valRaw'>;

export interface EnsembleSummary {
  basis: Basis;
  /** Name of the chosen recipe (a candidate's name). */
  chosen: string;
  candidates: CandidateSummary[];
  skipped: SkippedRecipe[];
  members: number;
  calibration: Calibration;
  targetMin: number | null;
  profile: TargetProfile;
  seconds: number;
}

export function candidateSummary(c: CandidateResult): CandidateSummary {
  const { recipe, model: _model, valRaw: _valRaw, ...run } = c;
  return { ...recipe, ...run };
}

export function summarizeEnsemble(e: SplitEnsemble): EnsembleSummary {
  return {
    basis: e.basis,
    chosen: e.chosen.name,
    candidates: e.candidates.map(candidateSummary),
    skipped: e.skipped,
    members: e.members.length,
    calibration: e.calibration,
    targetMin: e.targetMin,
    profile: e.profile,
    seconds: e.seconds,
  };
}
