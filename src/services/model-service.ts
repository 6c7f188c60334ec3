/**
 * Trained models as users meet them: listed and read as cards with their plots, published by their owners, and asked
 * for predictions. The API thread resolves which model (and version) a caller may use; the inference pool computes,
 * off the event loop, batching concurrent requests for the same model version. A bounded memo answers a formula it has
 * already answered for the same model version without computing.
 */
import type { MaterialInput } from '../chem/input-schema.js';
import type { Viewer, Visibility } from '../db/dataset-queries.js';
import { getModel, getModelVersion, listModels, setModelVisibility, type ModelRecord } from '../db/model-queries.js';
import { isPostgresUnavailable, type Pool } from '../db/pool.js';
import { NotFoundError } from '../errors.js';
import { Lru } from '../util/lru.js';
import type { InferencePool } from './inference/inference-pool.js';
import { DEFAULT_COVERAGE, type MaterialPrediction } from './inference/prediction.js';
import { gatesPlotSvg, parityPlotSvg } from './plots.js';

export type { MaterialPrediction };

const notFound = (idOrName: string) => new NotFoundError('model_not_found', `there is no model "${idOrName}"; GET /v1/models lists them`);

/** A retrained or new model is seen by every API replica within this time. */
const VERSION_TTL_MS = 1000;

export class ModelService {
  private readonly versions = new Lru<{ record: ModelRecord; at: number }>(10_000);
  // Bounded so that a stream of new materials cannot grow the process: about 0.5 kB of JSON per entry.
  private readonly memo = new Lru<MaterialPrediction>(10_000);

  constructor(private readonly pool: Pool, private readonly inference: InferencePool) {}

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

  /**
   * The current version of a model the viewer may use, re-read from Postgres at most every VERSION_TTL_MS per model
   * and viewer. While Postgres is not answering, a version read before keeps serving (predictions need no writes).
   */
  private async current(viewer: Viewer, idOrName: string): Promise<ModelRecord> {
    const key = `${viewer ?? ''}\u0000${idOrName}`;
    const hit = this.versions.get(key);
    const now = Date.now();
    if (hit && now - hit.at < VERSION_TTL_MS) return hit.record;
    let v: { id: string; checksum: string } | undefined;
    try {
      v = await getModelVersion(this.pool, viewer, idOrName);
    } catch (err) {
      if (hit && isPostgresUnavailable(err)) return hit.record;
      throw err;
    }
    if (!v) throw notFound(idOrName);
    const record = hit && hit.record.id === v.id && hit.record.checksum === v.checksum ? hit.record : await this.get(viewer, v.id);
    this.versions.set(key, { record, at: now });
    return record;
  }

  /** Every input is checked first (all problems reported together, with their index); answers are in input order. */
  async predict(viewer: Viewer, idOrName: string, inputs: MaterialInput[], coverage = DEFAULT_COVERAGE): Promise<{ model: ModelRecord; predictions: MaterialPrediction[] }> {
    const model = await this.current(viewer, idOrName);
    const keyOf = (input: MaterialInput): string | undefined =>
      typeof input.formula === 'string' && Object.keys(input).length === 1 && input.formula.length <= 200 ? `${model.id}:${model.checksum}:${coverage}:${input.formula}` : undefined;
    const predictions: (MaterialPrediction | undefined)[] = inputs.map((input) => {
      const key = keyOf(input);
      return key === undefined ? undefined : this.memo.get(key);
    });
    const missing = inputs.flatMap((_, i) => (predictions[i] === undefined ? [i] : []));
    if (missing.length > 0) {
      let computed: MaterialPrediction[];
      try {
        computed = await this.inference.predictModel(model.id, model.checksum, missing.map((i) => inputs[i]), coverage);
      } catch (err) {
        // Problems name the index within the inputs sent to the pool; give them back the caller's indices.
        const problems = (err as { problems?: { index: number }[] }).problems;
        if (problems) for (const p of problems) p.index = missing[p.index];
        throw err;
      }
      missing.forEach((i, k) => {
        predictions[i] = computed[k];
        const key = keyOf(inputs[i]);
        if (key !== undefined) this.memo.set(key, computed[k]);
      });
    }
    return { model, predictions: predictions as MaterialPrediction[] };
  }
}
