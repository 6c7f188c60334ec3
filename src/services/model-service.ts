import type { MaterialInput } from '../chem/input.js';
import { ChemError, type Composition } from '../chem/types.js';
import type { Viewer, Visibility } from '../db/dataset-queries.js';
import { getModel, getModelVersion, getModelWeights, listModels, setModelVisibility, type ModelRecord } from '../db/model-queries.js';
import { NotFoundError } from '../errors.js';
import { gatesPlotSvg, parityPlotSvg } from './plots.js';
import type { Pool } from '../db/pool.js';
import { crystalGraph } from '../ml/cgcnn/batching.js';
import type { BaseWeights } from '../ml/mixture/checkpoint.js';
import { ensembleGate, loadModel } from '../ml/stored-model.js';
import type { ExpertInput } from '../ml/experts/expert-kind.js';
import { predictMixture, type MixtureModel } from '../ml/mixture/model.js';
import { resolveEach } from '../chem/resolve-inputs.js';

export interface LoadedModel {
  record: ModelRecord;
  members: MixtureModel[];
  needsStructure: boolean;
  trainingElements: Set<string> | null;
}

export interface MaterialPrediction {
  value: number;
  unit: string;
  uncertainty: number | null;
  uncertaintyMethod: 'ensemble-std' | 'test-mae' | 'none';
  formula: string;
  composition: Composition;
  experts: { key: string; weight: number }[];
  warnings: string[];
}

/** A retrained or new model is seen by every API replica within this time. */
const VERSION_TTL_MS = 1000;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Least-recently-used map of bounded size. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

const notFound = (idOrName: string) => new NotFoundError('model_not_found', `there is no model "${idOrName}"; GET /v1/models lists them`);

/**
 * Trained models as users meet them: listed and read as cards with their plots, published by their owners, and asked
 * for predictions. A model is loaded from Postgres on first use and kept while its checksum is unchanged (a retrained
 * shipped model is picked up on the next request). Predictions run in chunks, yielding between them, so one large
 * batch does not hold up other requests.
 */
export class ModelService {
  private readonly cache = new Map<string, LoadedModel>();
  /**
   * Member predictions of composition-only models by (model checksum, reduced formula): the same material is asked for
   * again and again (every polymorph, every user), and the answer cannot change while the checksum does not.
   */
  private readonly memo = new Lru<Float64Array>(50_000);
  private readonly versions = new Map<string, { v: { id: string; checksum: string } | undefined; at: number }>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly pool: Pool, private readonly base?: BaseWeights, private readonly chunkSize = 64) {}

  list(viewer: Viewer, opts: { property?: string; limit: number; offset: number }): Promise<{ items: ModelRecord[]; total: number }> {
    return listModels(this.pool, viewer, opts);
  }

  async get(viewer: Viewer, idOrName: string): Promise<ModelRecord> {
    const m = await getModel(this.pool, viewer, idOrName);
    if (!m) throw notFound(idOrName);
    return m;
  }

  async setVisibility(owner: string, idOrName: string, visibility: Visibility): Promise<ModelRecord> {
    const m = await setModelVisibility(this.pool, owner, idOrName, visibility);
    if (!m) throw notFound(idOrName);
    return m;
  }

  /** Test-set predictions against targets, as SVG. */
  async parityPlot(viewer: Viewer, idOrName: string): Promise<string> {
    const m = await this.get(viewer, idOrName);
    const parity = (m.metrics.parity ?? { targets: [], predictions: [] }) as { targets: number[]; predictions: number[] };
    return parityPlotSvg({ targets: parity.targets, predictions: parity.predictions, unit: m.unit, title: `${m.name}: ${m.property} (test set)` });
  }

  /** The learned gate weight of each expert, as SVG. */
  async gatesPlot(viewer: Viewer, idOrName: string): Promise<string> {
    const m = await this.get(viewer, idOrName);
    return gatesPlotSvg({ experts: m.experts, title: `${m.name}: which experts it trusts` });
  }

  /** A model `viewer` may use, loaded (404 when there is none). */
  async resolve(viewer: Viewer, idOrName: string): Promise<LoadedModel> {
    const v = await this.version(viewer, idOrName);
    if (!v) throw notFound(idOrName);
    const cached = this.cache.get(v.id);
    if (cached && cached.record.checksum === v.checksum) return cached;
    const key = `${v.id}:${v.checksum}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(viewer, v.id).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  /** Which version of a model is current, re-read from Postgres at most every VERSION_TTL_MS per model and viewer. */
  private async version(viewer: Viewer, idOrName: string): Promise<{ id: string; checksum: string } | undefined> {
    const now = Date.now();
    const key = `${viewer ?? ''}\u0000${idOrName}`;
    const hit = this.versions.get(key);
    if (hit && now - hit.at < VERSION_TTL_MS) return hit.v;
    const v = await getModelVersion(this.pool, viewer, idOrName);
    // Only found models are remembered, so a model created a moment ago is never reported missing.
    if (v) this.versions.set(key, { v, at: now });
    if (this.versions.size > 10_000) this.versions.delete(this.versions.keys().next().value as string);
    return v;
  }

  private async load(viewer: Viewer, id: string): Promise<LoadedModel> {
    const [record, blob] = await Promise.all([getModel(this.pool, viewer, id), getModelWeights(this.pool, id)]);
    if (!record || !blob) throw new Error(`model ${id} vanished while loading`);
    const { members, needsStructure } = loadModel(new Uint8Array(blob.weights.buffer, blob.weights.byteOffset, blob.weights.byteLength), this.base);
    const elements = record.metrics.trainingElements;
    const loaded: LoadedModel = {
      record,
      members,
      needsStructure,
      trainingElements: Array.isArray(elements) ? new Set(elements as string[]) : null,
    };
    this.cache.set(id, loaded);
    return loaded;
  }

  /** Checks every input first (all problems reported together), then predicts in input order. */
  async predict(viewer: Viewer, idOrName: string, inputs: readonly MaterialInput[]): Promise<{ model: ModelRecord; predictions: MaterialPrediction[] }> {
    const model = await this.resolve(viewer, idOrName);
    return { model: model.record, predictions: await this.predictLoaded(model, inputs) };
  }

  private async predictLoaded(model: LoadedModel, inputs: readonly MaterialInput[]): Promise<MaterialPrediction[]> {
    const { resolved, mapped: mlInputs } = resolveEach(inputs, (r): ExpertInput => {
      if (model.needsStructure && !r.structure) {
        throw new ChemError('structure_required', `model "${model.record.name}" mixes crystal-structure experts and needs a structure: send "structure" (pymatgen JSON), "cif" or "poscar" instead of "formula"`);
      }
      return { formula: r.formula, ...(model.needsStructure && r.structure ? { graph: crystalGraph(r.structure) } : {}) };
    });

    const perMember: Float32Array[] = model.members.map(() => new Float32Array(mlInputs.length));
    const memoKey = (i: number): string | undefined => (model.needsStructure ? undefined : `${model.record.checksum}:${mlInputs[i].formula}`);
    const todo: number[] = [];
    mlInputs.forEach((_, i) => {
      const key = memoKey(i);
      const hit = key === undefined ? undefined : this.memo.get(key);
      if (hit) hit.forEach((v, j) => { perMember[j][i] = v; });
      else todo.push(i);
    });
    for (let start = 0; start < todo.length; start += this.chunkSize) {
      const rows = todo.slice(start, start + this.chunkSize);
      const chunk = rows.map((i) => mlInputs[i]);
      model.members.forEach((m, j) => {
        const values = predictMixture(m, chunk);
        rows.forEach((i, r) => { perMember[j][i] = values[r]; });
      });
      for (const i of rows) {
        const key = memoKey(i);
        if (key !== undefined) this.memo.set(key, Float64Array.from(perMember, (p) => p[i]));
      }
      if (start + this.chunkSize < todo.length) await yieldToEventLoop();
    }

    const gate = ensembleGate(model.members).map(({ key, weight }) => ({ key, weight }));
    const testMae = typeof model.record.metrics.testMae === 'number' ? model.record.metrics.testMae : null;
    return resolved.map((r, i) => {
      const values = perMember.map((p) => p[i]);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      let uncertainty: number | null = null;
      let uncertaintyMethod: MaterialPrediction['uncertaintyMethod'] = 'none';
      if (values.length > 1) {
        uncertainty = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
        uncertaintyMethod = 'ensemble-std';
      } else if (testMae !== null) {
        uncertainty = testMae;
        uncertaintyMethod = 'test-mae';
      }
      const warnings = [...r.warnings];
      if (model.trainingElements) {
        const unseen = Object.keys(r.composition).filter((el) => !model.trainingElements!.has(el));
        if (unseen.length > 0) warnings.push(`${unseen.join(', ')} never appeared in this model's training data; treat the value with caution`);
      }
      return { value: mean, unit: model.record.unit, uncertainty, uncertaintyMethod, formula: r.formula, composition: r.composition, experts: gate, warnings };
    });
  }
}
