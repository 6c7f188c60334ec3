/**
 * The inference thread's side of a model: stored models loaded from Postgres (once per version, a bounded number of
 * them), and one batch of requests answered: inputs resolved (every problem with its index), each request held to its
 * compute budget, every member run once over all the batch's inputs, answers summarised per material.
 */
import pg from 'pg';
import type { MaterialInput } from '../../chem/input-schema.js';
import type { ResolvedInput } from '../../chem/input.js';
import { InvalidInputsError, resolveEach } from '../../chem/resolve-inputs.js';
import { ChemError } from '../../chem/types.js';
import { crystalGraph } from '../../ml/cgcnn/batching.js';
import type { ExpertInput, ExpertKind } from '../../ml/experts/expert-kind.js';
import { expertKind } from '../../ml/experts/registry.js';
import { predictMixture } from '../../ml/mixture/model.js';
import { ensembleGate, loadModel, type BaseWeights, type StoredModel } from '../../ml/stored-model.js';
import { Lru } from '../../util/lru.js';
import { overBudget } from './budget.js';
import type { GroupResult, MaterialPrediction, ModelTask } from './protocol.js';

interface ThreadModel extends StoredModel {
  /** The kinds of the members' experts: each checks that it can read an input, so a problem is reported with its index. */
  kinds: ExpertKind[];
  checksum: string;
  name: string;
  unit: string;
  testMae: number | null;
  trainingElements: Set<string> | null;
  gate: { key: string; weight: number }[];
}

/** Models a thread keeps loaded; a model needs ~1–10 MB. */
const MAX_MODELS = 16;

export class ModelRuntime {
  private readonly models = new Lru<ThreadModel>(MAX_MODELS);

  constructor(private readonly pool: pg.Pool, private readonly base: BaseWeights) {}

  private async model(id: string, checksum: string): Promise<ThreadModel> {
    const hit = this.models.get(id);
    if (hit && hit.checksum === checksum) return hit;
    const { rows } = await this.pool.query<{ name: string; unit: string; metrics: Record<string, unknown>; weights: Buffer; checksum: string }>(
      'SELECT name, unit, metrics, weights, checksum FROM models WHERE id = $1', [id],
    );
    const row = rows[0];
    if (!row) throw new Error(`model ${id} no longer exists`);
    const stored = loadModel(new Uint8Array(row.weights.buffer, row.weights.byteOffset, row.weights.byteLength), this.base);
    const elements = row.metrics.trainingElements;
    const m: ThreadModel = {
      ...stored, kinds: [...new Set(stored.members.flatMap((m) => m.experts.map((e) => e.kind)))].map(expertKind), checksum: row.checksum, name: row.name, unit: row.unit,
      testMae: typeof row.metrics.testMae === 'number' ? row.metrics.testMae : null,
      trainingElements: Array.isArray(elements) ? new Set(elements as string[]) : null,
      gate: ensembleGate(stored.members).map(({ key, weight }) => ({ key, weight })),
    };
    this.models.set(id, m);
    return m;
  }

  async run(task: ModelTask): Promise<GroupResult<MaterialPrediction>[]> {
    const model = await this.model(task.modelId, task.checksum);
    const results: (GroupResult<MaterialPrediction> | undefined)[] = [];
    const admitted: { group: number; resolved: ResolvedInput[]; inputs: ExpertInput[] }[] = [];
    task.groups.forEach((inputs, group) => {
      try {
        const { resolved, mapped } = resolveEach(inputs as MaterialInput[], (r): ExpertInput => {
          if (model.needsStructure && !r.structure) {
            throw new ChemError('structure_required', `model "${model.name}" mixes crystal-structure experts and needs a structure: send "structure" (pymatgen JSON), "cif" or "poscar" instead of "formula"`);
          }
          const input: ExpertInput = { formula: r.formula, ...(model.needsStructure && r.structure ? { graph: crystalGraph(r.structure) } : {}) };
          for (const kind of model.kinds) kind.check(input);
          return input;
        });
        const refused = overBudget<MaterialPrediction>(resolved, task.budget);
        if (refused) results[group] = refused;
        else admitted.push({ group, resolved, inputs: mapped });
      } catch (err) {
        if (!(err instanceof InvalidInputsError)) throw err;
        results[group] = { ok: false, problems: err.problems };
      }
    });
    const all = admitted.flatMap((a) => a.inputs);
    const perMember = model.members.map((m) => predictMixture(m, all));
    let at = 0;
    for (const a of admitted) {
      results[a.group] = { ok: true, predictions: a.resolved.map((r, i) => this.summarize(model, r, perMember.map((p) => p[at + i]))) };
      at += a.inputs.length;
    }
    return results as GroupResult<MaterialPrediction>[];
  }

  private summarize(model: ThreadModel, r: ResolvedInput, values: number[]): MaterialPrediction {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    let uncertainty: number | null = null;
    let uncertaintyMethod: MaterialPrediction['uncertaintyMethod'] = 'none';
    if (values.length > 1) {
      uncertainty = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
      uncertaintyMethod = 'ensemble-std';
    } else if (model.testMae !== null) {
      uncertainty = model.testMae;
      uncertaintyMethod = 'test-mae';
    }
    const warnings = [...r.warnings];
    if (model.trainingElements) {
      const unseen = Object.keys(r.composition).filter((el) => !model.trainingElements!.has(el));
      if (unseen.length > 0) warnings.push(`${unseen.join(', ')} never appeared in this model's training data; treat the value with caution`);
    }
    return { value: mean, unit: model.unit, uncertainty, uncertaintyMethod, formula: r.formula, composition: r.composition, experts: model.gate, warnings };
  }
}
