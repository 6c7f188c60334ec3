import { readFile } from 'node:fs/promises';
import { compositionFeatures } from '../chem/descriptors.js';
import { resolveEach } from '../chem/resolve-inputs.js';
import type { MaterialInput } from '../chem/input.js';
import { ChemError, type Composition } from '../chem/types.js';
import { NotFoundError } from '../errors.js';
import { getExpert, listExperts, upsertExpert, type ExpertKind, type ExpertRecord } from '../db/expert-queries.js';
import type { Pool } from '../db/pool.js';
import { hasAtomFeatures } from '../ml/cgcnn/atom-features.js';
import { crystalGraph } from '../ml/cgcnn/batching.js';
import { predictExpert, type CgcnnCard } from '../ml/cgcnn/expert.js';
import type { CompositionExpertCard } from '../ml/composition/card.js';
import { predictFromFeatures } from '../ml/composition/expert.js';
import { loadAllShippedExperts, type ShippedExpert } from '../ml/experts/registry.js';
import type { StateDict } from '../ml/safetensors.js';

export interface ExpertPrediction {
  value: number;
  formula: string;
  composition: Composition;
  nSites: number | null;
}

const notFound = (key: string) => new NotFoundError('expert_not_found', `there is no expert "${key}"; GET /v1/experts lists them`);

/**
 * The pre-trained experts: the shipped files, loaded once per process and seeded into Postgres (idempotent: unchanged
 * files are left alone), listed with their cards, and run on their own source property. Experts are public.
 */
export class ExpertService {
  private constructor(private readonly pool: Pool, private readonly experts: Map<string, ShippedExpert>) {}

  static async load(pool: Pool): Promise<ExpertService> {
    return new ExpertService(pool, new Map((await loadAllShippedExperts()).map((e) => [e.key, e])));
  }

  list(kind?: ExpertKind): Promise<ExpertRecord[]> {
    return listExperts(this.pool, kind);
  }

  async get(key: string): Promise<ExpertRecord> {
    const e = await getExpert(this.pool, key);
    if (!e) throw notFound(key);
    return e;
  }

  async seed(): Promise<Record<'inserted' | 'updated' | 'unchanged', number>> {
    const pool = this.pool;
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    for (const e of this.experts.values()) {
      const card = e.card as Record<string, unknown>;
      const composition = e.kind === 'composition' ? (e.card as CompositionExpertCard) : undefined;
      const cgcnn = e.kind === 'cgcnn' ? (e.card as CgcnnCard) : undefined;
      const outcome = await upsertExpert(pool, {
        key: e.key, kind: e.kind as ExpertKind, property: String(card.property), unit: String(card.unit),
        sourceDataset: composition?.source.name ?? cgcnn?.likely_source_dataset ?? null,
        valMae: composition?.val_mae ?? cgcnn?.best_val_mae ?? null,
        architecture: card.architecture as Record<string, unknown>, card, weights: await readFile(e.path), sha256: e.baseSha256,
      });
      counts[outcome]++;
    }
    return counts;
  }

  /** The shipped weights of expert `key` if they are the file with this sha256 (what stored models build on). */
  baseWeights(key: string, sha256: string): StateDict | undefined {
    const e = this.experts.get(key);
    return e && e.baseSha256 === sha256 ? e.weights : undefined;
  }

  has(key: string): boolean {
    return this.experts.has(key);
  }

  /** Runs one expert on its own source property. Every bad input is collected before anything is computed. */
  async predict(key: string, inputs: readonly MaterialInput[]): Promise<{ expert: ExpertRecord; predictions: ExpertPrediction[] }> {
    const record = await this.get(key);
    return { expert: record, predictions: this.run(key, inputs) };
  }

  private run(key: string, inputs: readonly MaterialInput[]): ExpertPrediction[] {
    const expert = this.experts.get(key);
    if (!expert) throw notFound(key);
    if (expert.kind === 'composition') return this.predictComposition(expert as ShippedExpert<CompositionExpertCard>, inputs);
    const { resolved, mapped: graphs } = resolveEach(inputs, (r) => {
      if (!r.structure) {
        throw new ChemError('structure_required', `expert ${key} is a crystal-graph (CGCNN) model and needs a crystal structure: send "structure", "cif" or "poscar" instead of "formula"`);
      }
      const g = crystalGraph(r.structure);
      const bad = [...g.atomicNumbers].find((z) => !hasAtomFeatures(z));
      if (bad !== undefined) throw new ChemError('element_unsupported', `element Z=${bad} is beyond the CGCNN atom-feature table (Z ≤ 100)`);
      return g;
    });
    const values = predictExpert(expert as ShippedExpert<CgcnnCard>, graphs);
    return resolved.map((r, i) => ({ value: values[i], formula: r.formula, composition: r.composition, nSites: r.structure?.sites.length ?? null }));
  }

  /** Composition experts read formulas; a structure is reduced to its composition. */
  private predictComposition(expert: ShippedExpert<CompositionExpertCard>, inputs: readonly MaterialInput[]): ExpertPrediction[] {
    // Descriptors per input, so that an element beyond the Magpie table is reported with its input's index.
    const { resolved, mapped: features } = resolveEach(inputs, (r) => compositionFeatures(r.composition));
    const matrix = new Float32Array(features.reduce((n, f) => n + f.length, 0));
    features.forEach((f, i) => matrix.set(f, i * f.length));
    const values = predictFromFeatures(expert, matrix);
    return resolved.map((r, i) => ({ value: values[i], formula: r.formula, composition: r.composition, nSites: r.structure?.sites.length ?? null }));
  }
}
