/**
 * A composition expert (experts/composition/: one `<key>.safetensors` per source set plus `experts.json` cards): its
 * weights file, and what it does on its own: embed compositions (64-d) and predict its source property.
 */
import { createHash } from 'node:crypto';
import { compositionFeatureMatrix, featurizerSpec } from '../../chem/descriptors.js';
import type { Composition } from '../../chem/types.js';
import { parseSafetensors, serializeSafetensors, type StateDict } from '../safetensors.js';
import type { ExpertWeights } from '../experts/expert-kind.js';
import { checkCard, COMPOSITION_KIND, type CompositionExpertCard } from './card.js';
import { checkWeights, runModel } from './model.js';

/** Refuses a card whose descriptors would differ from the ones this build computes. */
export function checkFeaturizer(card: CompositionExpertCard): void {
  const here = featurizerSpec();
  const f = card.featurizer;
  if (f.version !== here.version || f.featureCount !== here.featureCount || f.magpieSha256 !== here.magpieSha256) {
    throw new Error(
      `composition expert ${card.key} was trained on featurizer ${f.version} (${f.featureCount} features, magpie ${f.magpieSha256.slice(0, 12)}); ` +
        `this build computes ${here.version} (${here.featureCount}, ${here.magpieSha256.slice(0, 12)})`,
    );
  }
}

/** The weights file: tensors plus the card as JSON metadata (deterministic bytes for identical inputs). */
export function serializeCompositionExpert(card: CompositionExpertCard, weights: StateDict): Uint8Array {
  checkCard(card);
  checkWeights(weights, card.architecture);
  return serializeSafetensors(weights, { format: 'matmoe-composition-expert/1', card: JSON.stringify(card) });
}

export type CompositionExpert = ExpertWeights<CompositionExpertCard>;

/**
 * A composition expert from its weights file; the card comes from `card` or, when omitted, from the file's metadata.
 * Card, featurizer and every tensor are checked.
 */
export function compositionExpertFromBytes(bytes: Uint8Array, card?: unknown, sha256: string = createHash('sha256').update(bytes).digest('hex')): CompositionExpert {
  const { tensors, metadata } = parseSafetensors(bytes);
  const c: unknown = card ?? (metadata.card ? JSON.parse(metadata.card) : undefined);
  if (c === undefined) throw new Error('the weights file carries no card and none was given');
  checkCard(c);
  checkFeaturizer(c);
  checkWeights(tensors, c.architecture);
  return { key: c.key, kind: COMPOSITION_KIND, card: c, baseSha256: sha256, weights: tensors };
}

/** 64-d embeddings of compositions (element → amount), row-major [comps.length, 64]. */
export function compositionEmbeddings(expert: Pick<CompositionExpert, 'card' | 'weights'>, comps: readonly Composition[]): Float32Array {
  return runModel(expert.weights, expert.card.architecture, compositionFeatureMatrix(comps), false).embeddings;
}

/** The expert's own prediction of its source property, in the card's unit. */
export function predictCompositionExpert(expert: Pick<CompositionExpert, 'card' | 'weights'>, comps: readonly Composition[]): Float32Array {
  return predictFromFeatures(expert, compositionFeatureMatrix(comps));
}

/** Same as predictCompositionExpert, from a precomputed raw descriptor matrix. */
export function predictFromFeatures(expert: Pick<CompositionExpert, 'card' | 'weights'>, features: Float32Array): Float32Array {
  const { z } = runModel(expert.weights, expert.card.architecture, features, true);
  const { mean, std } = expert.card.target_normalizer;
  return z.map((v) => v * std + mean);
}
