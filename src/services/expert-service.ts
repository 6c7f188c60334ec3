import { readFile } from 'node:fs/promises';
import type { MaterialInput } from '../chem/input-schema.js';
import { getExpert, listExperts, upsertExpert, type ExpertKind, type ExpertRecord } from '../db/expert-queries.js';
import type { Pool } from '../db/pool.js';
import { NotFoundError } from '../errors.js';
import type { CgcnnCard } from '../ml/cgcnn/expert.js';
import type { CompositionExpertCard } from '../ml/composition/card.js';
import { loadAllShippedExperts } from '../ml/experts/registry.js';
import type { InferencePool } from './inference/inference-pool.js';
import type { ExpertPrediction } from './inference/protocol.js';

export type { ExpertPrediction };

const notFound = (key: string) => new NotFoundError('expert_not_found', `there is no expert "${key}"; GET /v1/experts lists them`);

/**
 * The pre-trained experts: the shipped files seeded into Postgres (idempotent: unchanged files are left alone), listed
 * with their cards, and run on their own source property by the inference pool. Experts are public.
 */
export class ExpertService {
  constructor(private readonly pool: Pool, private readonly inference: InferencePool) {}

  list(kind?: ExpertKind): Promise<ExpertRecord[]> {
    return listExperts(this.pool, kind);
  }

  async get(key: string): Promise<ExpertRecord> {
    const e = await getExpert(this.pool, key);
    if (!e) throw notFound(key);
    return e;
  }

  /** Every shipped expert file, checked against its card, into Postgres. */
  async seed(): Promise<Record<'inserted' | 'updated' | 'unchanged', number>> {
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    for (const e of await loadAllShippedExperts()) {
      const card = e.card as Record<string, unknown>;
      const composition = e.kind === 'composition' ? (e.card as CompositionExpertCard) : undefined;
      const cgcnn = e.kind === 'cgcnn' ? (e.card as CgcnnCard) : undefined;
      const outcome = await upsertExpert(this.pool, {
        key: e.key, kind: e.kind as ExpertKind, property: String(card.property), unit: String(card.unit),
        sourceDataset: composition?.source.name ?? cgcnn?.likely_source_dataset ?? null,
        valMae: composition?.val_mae ?? cgcnn?.best_val_mae ?? null,
        architecture: card.architecture as Record<string, unknown>, card, weights: await readFile(e.path), sha256: e.baseSha256,
      });
      counts[outcome]++;
    }
    return counts;
  }

  /** Runs one expert on its own source property. Every bad input is collected before anything is computed. */
  async predict(key: string, inputs: MaterialInput[]): Promise<{ expert: ExpertRecord; predictions: ExpertPrediction[] }> {
    const expert = await this.get(key);
    return { expert, predictions: await this.inference.predictExpert(key, inputs) };
  }
}
