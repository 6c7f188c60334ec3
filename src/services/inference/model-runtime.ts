/**
 * The inference thread's side of a model: stored models loaded from Postgres (once per version, a bounded number of
 * them) and compiled for fast inference, and one batch of requests answered: inputs resolved (every problem with its
 * index), each request held to its compute budget, each input routed to the members that read it (structure members
 * for a crystal structure, composition members for a formula), every member run once over the batch, answers
 * summarised per material.
 */
import pg from 'pg';
import type { MaterialInput } from '../../chem/input-schema.js';
import type { ResolvedInput } from '../../chem/input.js';
import { InvalidInputsError, resolveEach } from '../../chem/resolve-inputs.js';
import { ChemError } from '../../chem/types.js';
import { crystalGraph } from '../../ml/cgcnn/batching.js';
import type { ExpertInput, ExpertKind } from '../../ml/experts/expert-kind.js';
import { expertKind } from '../../ml/experts/registry.js';
import { compileModel, type CompiledModel } from '../../ml/inference/compiled-model.js';
import type { MixtureModel } from '../../ml/mixture/model.js';
import { ensembleGate, loadModel, modelNeedsStructure, type BaseWeights } from '../../ml/stored-model.js';
import { Lru } from '../../util/lru.js';
import { overBudget } from './budget.js';
import type { GroupResult, MaterialPrediction, ModelTask } from './protocol.js';

type Basis = 'structure' | 'composition';

/** Members that read the same kind of input, compiled together (their shared layers run once). */
interface MemberGroup {
  basis: Basis;
  members: MixtureModel[];
  compiled: CompiledModel;
  kinds: ExpertKind[];
  gate: { key: string; weight: number }[];
}

interface ThreadModel {
  checksum: string;
  name: string;
  unit: string;
  testMae: number | null;
  trainingElements: Set<string> | null;
  groups: Partial<Record<Basis, MemberGroup>>;
}

/** Models a thread keeps loaded; a model needs ~1–10 MB. */
const MAX_MODELS = 16;

function group(basis: Basis, members: MixtureModel[]): MemberGroup | undefined {
  if (members.length === 0) return undefined;
  const kinds = [...new Set(members.flatMap((m) => m.experts.map((e) => e.kind)))].map(expertKind);
  return { basis, members, compiled: compileModel(members), kinds, gate: ensembleGate(members).map(({ key, weight }) => ({ key, weight })) };
}

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
    const { members } = loadModel(new Uint8Array(row.weights.buffer, row.weights.byteOffset, row.weights.byteLength), this.base);
    for (const g of Object.values(hit?.groups ?? {})) g.compiled.dispose();
    const elements = row.metrics.trainingElements;
    const m: ThreadModel = {
      checksum: row.checksum, name: row.name, unit: row.unit,
      testMae: typeof row.metrics.testMae === 'number' ? row.metrics.testMae : null,
      trainingElements: Array.isArray(elements) ? new Set(elements as string[]) : null,
      groups: {
        structure: group('structure', members.filter((x) => modelNeedsStructure([x]))),
        composition: group('composition', members.filter((x) => !modelNeedsStructure([x]))),
      },
    };
    this.models.set(id, m);
    return m;
  }

  /** The members that answer an input: structure members for a structure when the model has them, else composition ones. */
  private route(model: ThreadModel, r: ResolvedInput): { group: MemberGroup; input: ExpertInput } {
    const structure = model.groups.structure;
    const composition = model.groups.composition;
    if (r.structure && structure) return { group: structure, input: { formula: r.formula, graph: crystalGraph(r.structure) } };
    if (composition) return { group: composition, input: { formula: r.formula } };
    throw new ChemError('structure_required', `model "${model.name}" mixes crystal-structure experts and needs a structure: send "structure" (pymatgen JSON), "cif" or "poscar" instead of "formula"`);
  }

  async run(task: ModelTask): Promise<GroupResult<MaterialPrediction>[]> {
    const model = await this.model(task.modelId, task.checksum);
    const results: (GroupResult<MaterialPrediction> | undefined)[] = [];
    const routed: { request: number; resolved: ResolvedInput[]; routes: { group: MemberGroup; input: ExpertInput }[] }[] = [];
    task.groups.forEach((inputs, request) => {
      try {
        const { resolved, mapped } = resolveEach(inputs as MaterialInput[], (r) => {
          const route = this.route(model, r);
          for (const kind of route.group.kinds) kind.check(route.input);
          return route;
        });
        results[request] = overBudget<MaterialPrediction>(resolved, task.budget);
        if (!results[request]) routed.push({ request, resolved, routes: mapped });
      } catch (err) {
        if (!(err instanceof InvalidInputsError)) throw err;
        results[request] = { ok: false, problems: err.problems };
      }
    });
    // One call per member group over every routed input of the batch.
    const values = new Map<MemberGroup, Float32Array[]>();
    const position = new Map<ExpertInput, number>();
    for (const g of Object.values(model.groups)) {
      const inputs = routed.flatMap((r) => r.routes.filter((x) => x.group === g).map((x) => x.input));
      inputs.forEach((input, i) => position.set(input, i));
      if (inputs.length > 0) values.set(g, g.compiled.predict(inputs));
    }
    for (const r of routed) {
      results[r.request] = {
        ok: true,
        predictions: r.resolved.map((res, i) => {
          const { group: g, input } = r.routes[i];
          const at = position.get(input)!;
          return this.summarize(model, g, res, values.get(g)!.map((member) => member[at]));
        }),
      };
    }
    return results as GroupResult<MaterialPrediction>[];
  }

  private summarize(model: ThreadModel, g: MemberGroup, r: ResolvedInput, values: number[]): MaterialPrediction {
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
    return { value: mean, unit: model.unit, uncertainty, uncertaintyMethod, formula: r.formula, composition: r.composition, experts: g.gate, warnings };
  }
}
