import { resolveInput, type MaterialInput, type ResolvedInput } from '../chem/input.js';
import { ChemError, type Composition } from '../chem/types.js';
import { upsertExpert, type ExpertKind } from '../db/experts.js';
import type { Pool } from '../db/pool.js';
import { hasAtomFeatures } from '../ml/atom-features.js';
import { crystalGraph, type CrystalGraph } from '../ml/batching.js';
import { loadShippedExperts, predictExpert, type ExpertBundle } from '../ml/experts.js';
import { readFile } from 'node:fs/promises';

/** A per-input problem, reported with the input's position so that a user can fix their batch in one go. */
export interface InputProblem {
  index: number;
  code: string;
  message: string;
}

export class InvalidInputsError extends Error {
  constructor(readonly problems: InputProblem[]) {
    super(problems.length === 1
      ? `input ${problems[0].index}: ${problems[0].message}`
      : `${problems.length} inputs are invalid; the first is input ${problems[0].index}: ${problems[0].message}`);
  }
}

export interface ExpertPrediction {
  value: number;
  formula: string;
  composition: Composition;
  nSites: number | null;
}

/** The shipped experts, loaded once per process and seeded into Postgres (idempotent: unchanged files are left alone). */
export class ExpertService {
  private constructor(private readonly cgcnn: Map<string, ExpertBundle>) {}

  static async load(): Promise<ExpertService> {
    const bundles = await loadShippedExperts();
    return new ExpertService(new Map(bundles.map((b) => [b.card.key, b])));
  }

  async seed(pool: Pool): Promise<Record<'inserted' | 'updated' | 'unchanged', number>> {
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    for (const b of this.cgcnn.values()) {
      const { card } = b;
      const outcome = await upsertExpert(pool, {
        key: card.key,
        kind: 'cgcnn',
        property: card.property,
        unit: card.unit,
        sourceDataset: card.likely_source_dataset ?? null,
        valMae: card.best_val_mae ?? null,
        architecture: card.architecture as unknown as Record<string, unknown>,
        card: card as unknown as Record<string, unknown>,
        weights: await readFile(b.path),
        sha256: b.sha256,
      });
      counts[outcome]++;
    }
    return counts;
  }

  kindOf(key: string): ExpertKind | undefined {
    return this.cgcnn.has(key) ? 'cgcnn' : undefined;
  }

  get(key: string): ExpertBundle | undefined {
    return this.cgcnn.get(key);
  }

  /** Runs one expert on its own source property. Every bad input is collected before anything is computed. */
  predict(key: string, inputs: readonly MaterialInput[]): ExpertPrediction[] {
    const expert = this.cgcnn.get(key);
    if (!expert) throw new Error(`unknown expert ${key}`);
    const problems: InputProblem[] = [];
    const resolved: ResolvedInput[] = [];
    const graphs: CrystalGraph[] = [];
    inputs.forEach((input, index) => {
      try {
        const r = resolveInput(input);
        if (!r.structure) {
          throw new ChemError('structure_required', `expert ${key} is a crystal-graph (CGCNN) model and needs a crystal structure: send "structure", "cif" or "poscar" instead of "formula"`);
        }
        const g = crystalGraph(r.structure);
        const bad = [...g.atomicNumbers].find((z) => !hasAtomFeatures(z));
        if (bad !== undefined) throw new ChemError('element_unsupported', `element Z=${bad} is beyond the CGCNN atom-feature table (Z ≤ 100)`);
        resolved.push(r);
        graphs.push(g);
      } catch (err) {
        if (!(err instanceof ChemError)) throw err;
        problems.push({ index, code: err.code, message: err.message });
      }
    });
    if (problems.length > 0) throw new InvalidInputsError(problems);
    const values = predictExpert(expert, graphs);
    return resolved.map((r, i) => ({ value: values[i], formula: r.formula, composition: r.composition, nSites: r.structure?.sites.length ?? null }));
  }
}
