/**
 * The candidate recipes a split is trained with before one is kept on validation MAE. Small on purpose: each
 * candidate is a full training run.
 *
 * Round 1 (always, where the experts exist):
 *   paper          equal gate, MSE, the data's own transform: the paper's recipe, always reported beside the choice;
 *   probe          ridge-probe gate + L1 (composition experts: docs/composition-experts.md);
 *   probe+comp     structure data only: CGCNN + the leakage-allowed composition experts, probe gate per kind + L1.
 * Round 2 (variations of round 1's best, where the data call for them):
 *   log            a log transform for a positive, skewed target (ln(1+y) with zeros) that is not already log-type;
 *   mse            MSE instead of L1 for a heavy-tailed target.
 */
import type { GateInit, MixtureConfig } from '../mixture/config.js';
import type { Basis, TargetTransform } from '../mixture/output.js';
import { isHeavyTailed, logTransformFor, type TargetProfile } from './target-profile.js';

/** Which experts a candidate mixes: the paper's CGCNN experts, the composition experts, or both. */
export type ExpertPool = 'cgcnn' | 'cgcnn+composition' | 'composition';

export interface Recipe {
  /** Stable name: pool/gate/loss/transform, e.g. "cgcnn/equal/mse/log". */
  name: string;
  pool: ExpertPool;
  gateInit: GateInit;
  loss: 'mse' | 'l1';
  targetTransform: TargetTransform;
  /** The paper's recipe (equal gate, MSE, the data's own transform, the basis's own experts). */
  paper: boolean;
}

export interface SkippedRecipe {
  name: string;
  reason: string;
}

export function recipe(pool: ExpertPool, gateInit: GateInit, loss: 'mse' | 'l1', targetTransform: TargetTransform, nativeTransform: TargetTransform): Recipe {
  const paper = gateInit === 'equal' && loss === 'mse' && targetTransform === nativeTransform && pool !== 'cgcnn+composition';
  return { name: `${pool}/${gateInit}/${loss}/${targetTransform}`, pool, gateInit, loss, targetTransform, paper };
}

/** Round 1 for a basis; `compositionExperts` = how many composition experts the leakage rule allows. */
export function firstRound(basis: Basis, nativeTransform: TargetTransform, compositionExperts: number): { recipes: Recipe[]; skipped: SkippedRecipe[] } {
  const own: ExpertPool = basis === 'structure' ? 'cgcnn' : 'composition';
  const recipes = [recipe(own, 'equal', 'mse', nativeTransform, nativeTransform), recipe(own, 'probe', 'l1', nativeTransform, nativeTransform)];
  const skipped: SkippedRecipe[] = [];
  if (basis === 'structure') {
    const both = recipe('cgcnn+composition', 'probe-kinds', 'l1', nativeTransform, nativeTransform);
    if (compositionExperts > 0) recipes.push(both);
    else skipped.push({ name: both.name, reason: 'no composition expert is allowed for this property' });
  }
  return { recipes, skipped };
}

/** Round 2: variations of the best round-1 recipe that the training targets call for. */
export function secondRound(best: Recipe, profile: TargetProfile, nativeTransform: TargetTransform): { recipes: Recipe[]; skipped: SkippedRecipe[] } {
  const recipes: Recipe[] = [];
  const skipped: SkippedRecipe[] = [];
  const log = logTransformFor(profile);
  const logName = `${best.pool}/${best.gateInit}/${best.loss}/log`;
  if (log.transform === null) skipped.push({ name: logName, reason: log.reason });
  else if (log.transform === best.targetTransform) skipped.push({ name: logName, reason: `already trained on ${log.transform}` });
  else recipes.push(recipe(best.pool, best.gateInit, best.loss, log.transform, nativeTransform));
  const mseName = `${best.pool}/${best.gateInit}/mse/${best.targetTransform}`;
  if (best.loss === 'mse') skipped.push({ name: mseName, reason: 'the best recipe already trains on MSE' });
  else if (!isHeavyTailed(profile)) skipped.push({ name: mseName, reason: `targets are not heavy-tailed (excess kurtosis ${profile.excessKurtosis.toFixed(1)})` });
  else recipes.push(recipe(best.pool, best.gateInit, 'mse', best.targetTransform, nativeTransform));
  return { recipes, skipped };
}

/** The training protocol every candidate shares (shorter than the paper's 1000 epochs; docs/shipped-models.md measures the cost). */
export interface Protocol {
  epochs: number;
  patience: number;
  k: number;
}

export const CANDIDATE_PROTOCOL: Protocol = { epochs: 200, patience: 50, k: 2 };

/** Expert keys per pool (composition experts already filtered by the leakage rule). */
export interface PoolKeys {
  cgcnn: readonly string[];
  composition: readonly string[];
}

export function poolKeys(pool: ExpertPool, keys: PoolKeys): string[] {
  return pool === 'cgcnn' ? [...keys.cgcnn] : pool === 'composition' ? [...keys.composition] : [...keys.cgcnn, ...keys.composition];
}

/** A candidate's mixture config. */
export function recipeConfig(r: Recipe, keys: PoolKeys, protocol: Protocol, extra: Partial<MixtureConfig>): Partial<MixtureConfig> {
  const experts = poolKeys(r.pool, keys);
  if (experts.length === 0) throw new RangeError(`recipe ${r.name}: no expert in pool ${r.pool}`);
  return {
    ...extra,
    // A custom recipe may train one fixed expert ('pairwise') or from scratch; every candidate recipe is a mixture.
    mode: extra.mode ?? 'mixture',
    experts,
    k: Math.min(protocol.k, experts.length),
    epochs: protocol.epochs,
    patience: protocol.patience,
    gateInit: r.gateInit,
    loss: r.loss,
    targetTransform: r.targetTransform,
  };
}
