import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { upsertShippedModel, type ModelExpertWeight } from '../db/model-queries.js';
import type { Pool } from '../db/pool.js';
import type { Basis } from '../ml/mixture/output.js';
import type { Calibration } from '../ml/uncertainty/calibration.js';
import { ROOT } from '../paths.js';

export const SHIPPED_MODELS_DIR = join(ROOT, 'models');

/** One entry of models/index.json, written by `npm run zoo:tasks`. */
export interface ShippedModelCard {
  name: string;
  file: string;
  property: string;
  unit: string;
  inputKinds: string[];
  config: Record<string, unknown>;
  experts: ModelExpertWeight[];
  metrics: Record<string, unknown>;
  sha256: string;
  /** Per basis: its members' calibration and how its recipe was chosen (absent in cards written before calibration). */
  bases?: Partial<Record<Basis, ShippedBasis>>;
  /** The property's lower bound and how answers keep it. */
  bound?: Calibration['bound'];
  paperUnits?: { transform: string; label: string | null };
  /** How a crystal is answered by both groups of members (`npm run zoo:blend`; see model-calibration.ts). */
  blend?: { structureWeight: number; calibration: Calibration; candidates: { structureWeight: number; valMae: number }[]; summary: Record<string, number> };
}

interface ShippedBasis {
  calibration: Calibration;
  summary: Record<string, unknown>;
  splits: { split: number; chosen: string; candidates: { name: string; paper?: boolean; valMae: number; testMae: number }[]; skipped: { name: string; reason: string }[] }[];
}

/**
 * What Postgres keeps of a card as the model's metrics: the card's metrics, the calibration the inference threads
 * read (model-calibration.ts), and per basis the candidate recipes of every split with their validation MAE (the
 * choice) and test MAE (the report).
 */
function shippedMetrics(card: ShippedModelCard): Record<string, unknown> {
  if (!card.bases) return card.metrics;
  const bases = Object.entries(card.bases) as [Basis, ShippedBasis][];
  return {
    ...card.metrics,
    bound: card.bound ?? null,
    transform: card.paperUnits ?? null,
    calibration: Object.fromEntries(bases.map(([b, x]) => [b, x.calibration])),
    blend: card.blend ? { structureWeight: card.blend.structureWeight, calibration: card.blend.calibration, candidates: card.blend.candidates, summary: card.blend.summary } : null,
    recipes: Object.fromEntries(bases.map(([b, x]) => [b, {
      summary: x.summary,
      splits: x.splits.map((s) => ({
        split: s.split, chosen: s.chosen, skipped: s.skipped,
        candidates: s.candidates.map((c) => ({ name: c.name, paper: c.paper ?? false, valMae: c.valMae, testMae: c.testMae })),
      })),
    }])),
  };
}

/** Seeds the shipped models into Postgres; an unchanged file leaves its row alone, a changed one bumps its version. */
export async function seedShippedModels(pool: Pool, dir = SHIPPED_MODELS_DIR): Promise<Record<'inserted' | 'updated' | 'unchanged', number>> {
  const counts = { inserted: 0, updated: 0, unchanged: 0 };
  let cards: ShippedModelCard[];
  try {
    cards = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ShippedModelCard[];
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return counts;
    throw err;
  }
  for (const card of cards) {
    const weights = await readFile(join(dir, card.file));
    const checksum = createHash('sha256').update(weights).digest('hex');
    if (checksum !== card.sha256) throw new Error(`models/${card.file} does not match its sha256 in models/index.json; run npm run zoo:tasks again`);
    const outcome = await upsertShippedModel(pool, {
      owner: null, visibility: 'public', name: card.name, property: card.property, unit: card.unit, datasetId: null, splitId: null, jobId: null,
      inputKinds: card.inputKinds, config: card.config, experts: card.experts, metrics: shippedMetrics(card), weights, checksum, shipped: true,
    });
    counts[outcome]++;
  }
  return counts;
}
