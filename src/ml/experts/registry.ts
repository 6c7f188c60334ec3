/**
 * The expert kinds the mixture can draw on, by name: crystal-graph (CGCNN) experts read structures, composition
 * experts read formulas. Everything that must know every kind goes through here: the kind of a stored expert, an
 * expert from its weights file, and the shipped experts of experts/<kind>/ listed by their experts.json cards.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXPERTS_DIR } from '../../paths.js';
import { cgcnnKind } from '../cgcnn/kind.js';
import type { CgcnnCard } from '../cgcnn/expert.js';
import type { CompositionExpertCard } from '../composition/card.js';
import { compositionKind } from '../composition/kind.js';
import type { ExpertKind, ExpertWeights } from './expert-kind.js';

export const EXPERT_KINDS: Readonly<Record<string, ExpertKind>> = { cgcnn: cgcnnKind, composition: compositionKind };

export function expertKind(kind: string): ExpertKind {
  const k = EXPERT_KINDS[kind];
  if (!k) throw new Error(`unknown expert kind "${kind}"`);
  return k;
}

/** An expert of `kind` from its weights file and card, both checked. */
export function expertFromBytes(kind: string, bytes: Uint8Array, card: unknown, sha256: string): ExpertWeights {
  return expertKind(kind).fromBytes(bytes, card, sha256);
}

/** The card shape of each shipped kind. */
export interface ShippedCards {
  cgcnn: CgcnnCard;
  composition: CompositionExpertCard;
}
export type ShippedKind = keyof ShippedCards;

/** A shipped expert and the file it was read from. */
export type ShippedExpert<C extends object = object> = ExpertWeights<C> & { path: string };

/** The cards of `<dir>/experts.json`, in file order (for CGCNN the paper's gate order); keys must be unique. */
export async function readExpertCards(dir: string): Promise<(object & { key: string; file: string })[]> {
  const cards = JSON.parse(await readFile(join(dir, 'experts.json'), 'utf8')) as unknown;
  if (!Array.isArray(cards) || cards.length === 0) throw new Error(`${dir}/experts.json lists no experts`);
  const keys = new Set<string>();
  for (const c of cards as { key?: unknown; file?: unknown }[]) {
    if (typeof c?.key !== 'string' || typeof c.file !== 'string') throw new Error(`${dir}/experts.json: every card needs a "key" and a "file"`);
    if (keys.has(c.key)) throw new Error(`expert key ${c.key} appears twice in ${dir}/experts.json`);
    keys.add(c.key);
  }
  return cards as (object & { key: string; file: string })[];
}

/** Every expert of one kind shipped in `dir` (default experts/<kind>/), each file checked against its card. */
export async function loadShippedExperts<K extends ShippedKind>(kind: K, dir: string = join(EXPERTS_DIR, kind)): Promise<ShippedExpert<ShippedCards[K]>[]> {
  const cards = await readExpertCards(dir);
  return Promise.all(cards.map(async (card) => {
    const path = join(dir, card.file);
    const bytes = new Uint8Array(await readFile(path));
    const expert = expertFromBytes(kind, bytes, card, createHash('sha256').update(bytes).digest('hex'));
    return { ...(expert as ExpertWeights<ShippedCards[K]>), path };
  }));
}

/** The shipped experts of every kind whose folder has an experts.json (a checkout may lack the composition zoo). */
export async function loadAllShippedExperts(dir: string = EXPERTS_DIR): Promise<ShippedExpert[]> {
  const kinds = (Object.keys(EXPERT_KINDS) as ShippedKind[]).filter((k) => existsSync(join(dir, k, 'experts.json')));
  return (await Promise.all(kinds.map((k) => loadShippedExperts(k, join(dir, k))))).flat();
}
