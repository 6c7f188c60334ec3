/**
 * A stored model as the service, fine-tuning and the scripts load it: the bytes of an ensemble of mixtures (one member
 * per training split or seed, ensemble.ts) with the shipped expert weights its members build on. This is the one way
 * to load a model.
 */
import type { BaseWeights } from './mixture/checkpoint.js';
import { loadEnsemble } from './mixture/ensemble.js';
import type { MixtureModel } from './mixture/model.js';

/** Expert kinds that read a crystal structure; every other kind reads the composition. */
const STRUCTURE_KINDS = new Set(['cgcnn']);

export interface StoredModel {
  members: MixtureModel[];
  /** Some member mixes a crystal-graph expert, so inputs must be structures. */
  needsStructure: boolean;
}

/**
 * Checksums, format versions and every expert are checked (CheckpointError otherwise). `base` finds the shipped weights
 * a member left out because fine-tuning did not change them.
 */
export function loadModel(bytes: Uint8Array, base?: BaseWeights): StoredModel {
  const members = loadEnsemble(bytes, base);
  return { members, needsStructure: modelNeedsStructure(members) };
}

export function modelNeedsStructure(members: readonly MixtureModel[]): boolean {
  return members.some((m) => m.experts.some((e) => STRUCTURE_KINDS.has(e.kind)));
}

/**
 * Gate weights averaged over the ensemble members (an expert a member did not select counts 0 for it), largest first;
 * with `memberWeights` (a blend of member groups), member j counts by its weight instead of 1/n.
 */
export function ensembleGate(members: readonly MixtureModel[], memberWeights?: readonly number[]): { key: string; kind: string; weight: number }[] {
  const acc = new Map<string, { kind: string; weight: number }>();
  for (const [j, m] of members.entries()) {
    m.experts.forEach((e, s) => {
      const cur = acc.get(e.key) ?? { kind: e.kind, weight: 0 };
      cur.weight += memberWeights ? m.gateWeights[s] * memberWeights[j] : m.gateWeights[s] / members.length;
      acc.set(e.key, cur);
    });
  }
  return [...acc.entries()].map(([key, v]) => ({ key, kind: v.kind, weight: v.weight })).sort((a, b) => b.weight - a.weight);
}

export type { BaseWeights };
