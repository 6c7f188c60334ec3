/**
 * The shipped composition experts (experts/composition/: one `<key>.safetensors` per source set plus
 * `experts.json` cards) and what the service does with one on its own: embed compositions (64-d) and predict its
 * source property.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compositionFeatureMatrix, featurizerSpec } from '../../chem/descriptors.js';
import type { Composition } from '../../chem/types.js';
import { EXPERTS_DIR } from '../../paths.js';
import type { StateDict } from '../cgcnn/weights.js';
import { parseSafetensors, serializeSafetensors } from '../safetensors.js';
import { checkCard, type CompositionExpertCard } from './card.js';
import { checkWeights, runModel } from './model.js';

export const COMPOSITION_EXPERTS_DIR = join(EXPERTS_DIR, 'composition');

export interface CompositionExpertBundle {
  card: CompositionExpertCard;
  /** Tensor name → float32 data (input statistics, encoder, head). */
  weights: StateDict;
  /** sha256 (hex) of the weights file as shipped. */
  sha256: string;
  /** Absolute path of the weights file. */
  path: string;
}

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

/** Parses and checks a weights file; the card comes from `card` or, when omitted, from the file's metadata. */
export function parseCompositionExpert(bytes: Uint8Array, card?: CompositionExpertCard): { card: CompositionExpertCard; weights: StateDict } {
  const { tensors, metadata } = parseSafetensors(bytes);
  const c: unknown = card ?? (metadata.card ? JSON.parse(metadata.card) : undefined);
  if (c === undefined) throw new Error('the weights file carries no card and none was given');
  checkCard(c);
  checkFeaturizer(c);
  checkWeights(tensors, c.architecture);
  return { card: c, weights: tensors };
}

export async function loadCompositionExpertFile(card: CompositionExpertCard, path: string): Promise<CompositionExpertBundle> {
  const bytes = new Uint8Array(await readFile(path));
  const parsed = parseCompositionExpert(bytes, card);
  return { card: parsed.card, weights: parsed.weights, sha256: createHash('sha256').update(bytes).digest('hex'), path };
}

/** All experts listed in `<dir>/experts.json`, in card order. */
export async function loadCompositionExperts(dir: string = COMPOSITION_EXPERTS_DIR): Promise<CompositionExpertBundle[]> {
  const cards = JSON.parse(await readFile(join(dir, 'experts.json'), 'utf8')) as CompositionExpertCard[];
  if (!Array.isArray(cards) || cards.length === 0) throw new Error(`${dir}/experts.json lists no experts`);
  const keys = new Set<string>();
  for (const c of cards) {
    if (keys.has(c.key)) throw new Error(`expert key ${c.key} appears twice in ${dir}/experts.json`);
    keys.add(c.key);
  }
  return Promise.all(cards.map((c) => loadCompositionExpertFile(c, join(dir, c.file))));
}

/** 64-d embeddings of compositions (element → amount), row-major [comps.length, 64]. */
export function compositionEmbeddings(expert: Pick<CompositionExpertBundle, 'card' | 'weights'>, comps: readonly Composition[]): Float32Array {
  return runModel(expert.weights, expert.card.architecture, compositionFeatureMatrix(comps), false).embeddings;
}

/** The expert's own prediction of its source property, in the card's unit. */
export function predictCompositionExpert(expert: Pick<CompositionExpertBundle, 'card' | 'weights'>, comps: readonly Composition[]): Float32Array {
  return predictFromFeatures(expert, compositionFeatureMatrix(comps));
}

/** Same as predictCompositionExpert, from a precomputed raw descriptor matrix. */
export function predictFromFeatures(expert: Pick<CompositionExpertBundle, 'card' | 'weights'>, features: Float32Array): Float32Array {
  const { z } = runModel(expert.weights, expert.card.architecture, features, true);
  const { mean, std } = expert.card.target_normalizer;
  return z.map((v) => v * std + mean);
}
