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
import { memberOutput, physicalValue, type Basis, type MemberOutput } from '../../ml/mixture/output.js';
import { ensembleGate, loadModel, type BaseWeights } from '../../ml/stored-model.js';
import { blendMembers, calibratedValues, type Calibration, type EnsembleMember } from '../../ml/uncertainty/calibration.js';
import { blendOf, calibrationsOf, type ModelBlend } from '../model-calibration.js';
import { Lru } from '../../util/lru.js';
import { overBudget } from './budget.js';
import type { MaterialPrediction } from './prediction.js';
import type { GroupResult, ModelTask } from './protocol.js';

/** Members that read the same kind of input, compiled together (their shared layers run once). */
interface MemberGroup {
  basis: Basis;
  members: MixtureModel[];
  outputs: MemberOutput[];
  compiled: CompiledModel;
  kinds: ExpertKind[];
  gate: { key: string; kind: string; weight: number }[];
  /** Null for a model stored before calibration existed. */
  calibration: Calibration | null;
}

interface ThreadModel {
  checksum: string;
  name: string;
  unit: string;
  testMae: number | null;
  trainingElements: Set<string> | null;
  groups: Partial<Record<Basis, MemberGroup>>;
  /** How a crystal is answered when both groups answer it (model-calibration.ts `blendOf`). */
  blend: ThreadBlend | null;
}

/** A blend, resolved for a loaded model: the composition group, both groups' members weighted, their experts by share. */
interface ThreadBlend extends ModelBlend {
  composition: MemberGroup;
  members: EnsembleMember[];
  gate: MemberGroup['gate'];
}

/** Models a thread keeps loaded; a model needs ~1–10 MB. */
const MAX_MODELS = 16;

function group(basis: Basis, all: MixtureModel[], calibration: Calibration | undefined): MemberGroup | undefined {
  const members = all.filter((m) => memberOutput(m).basis === basis);
  if (members.length === 0) return undefined;
  const kinds = [...new Set(members.flatMap((m) => m.experts.map((e) => e.kind)))].map(expertKind);
  return { basis, members, outputs: members.map(memberOutput), compiled: compileModel(members), kinds, gate: ensembleGate(members), calibration: calibration ?? null };
}

function threadBlend(blend: ModelBlend | null, s: MemberGroup | undefined, c: MemberGroup | undefined): ThreadBlend | null {
  if (!blend || !s || !c) return null;
  const members = blendMembers(s.outputs, c.outputs, blend.structureWeight);
  // The experts of both groups, each member's gate counted by its share of the blend.
  return { ...blend, composition: c, members, gate: ensembleGate([...s.members, ...c.members], members.map((m) => m.weight)) };
}

/** A crystal's answer from both groups: the structure members' raw outputs, then the composition members'. */
function blendedValues(blend: ThreadBlend, rawS: Float32Array[], rawC: Float32Array[], coverage: number): ReturnType<typeof summarise> {
  return calibratedValues({ members: blend.members, raw: [...rawS, ...rawC] }, blend.calibration, coverage).map((v) => ({ ...v, uncertaintyMethod: 'split-conformal-ensemble' as const }));
}

/** Value and uncertainty of each input from its group's raw member outputs (raw[m][i]). */
function summarise(g: MemberGroup, raw: Float32Array[], testMae: number | null, coverage: number): Pick<MaterialPrediction, 'value' | 'uncertainty' | 'interval' | 'coverage' | 'uncertaintyMethod'>[] {
  if (g.calibration) {
    return calibratedValues({ members: g.outputs, raw }, g.calibration, coverage).map((v) => ({ ...v, uncertaintyMethod: 'split-conformal-ensemble' as const }));
  }
  // A model from before calibration: the members' mean in physical units, their spread (or the test MAE) unscaled.
  const n = raw[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) => {
    const values = g.outputs.map((o, m) => physicalValue(o, raw[m][i]));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    if (values.length > 1) {
      const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
      return { value: mean, uncertainty: sd, interval: null, coverage: null, uncertaintyMethod: 'ensemble-std' as const };
    }
    return { value: mean, uncertainty: testMae, interval: null, coverage: null, uncertaintyMethod: testMae === null ? 'none' as const : 'test-mae' as const };
  });
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
    const calibration = calibrationsOf(row.metrics);
    const groups = {
      structure: group('structure', members, calibration.structure),
      composition: group('composition', members, calibration.composition),
    };
    const m: ThreadModel = {
      checksum: row.checksum, name: row.name, unit: row.unit,
      testMae: typeof row.metrics.testMae === 'number' ? row.metrics.testMae : null,
      trainingElements: Array.isArray(elements) ? new Set(elements as string[]) : null,
      groups,
      blend: threadBlend(blendOf(row.metrics), groups.structure, groups.composition),
    };
    this.models.set(id, m);
    return m;
  }

  /** The members that answer an input: structure members for a structure when the model has them, else composition ones. */
  private route(model: ThreadModel, r: ResolvedInput): { group: MemberGroup; input: ExpertInput } {
    const structure = model.groups.structure;
    const composition = model.groups.composition;
    if (r.structure && structure) {
      // A blended answer also reads the formula with the composition members: both must accept the input.
      if (model.blend) for (const kind of model.blend.composition.kinds) kind.check({ formula: r.formula });
      return { group: structure, input: { formula: r.formula, graph: crystalGraph(r.structure) } };
    }
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
    const summaries = new Map<MemberGroup, ReturnType<typeof summarise>>();
    const position = new Map<ExpertInput, number>();
    for (const g of Object.values(model.groups)) {
      const inputs = routed.flatMap((r) => r.routes.filter((x) => x.group === g).map((x) => x.input));
      inputs.forEach((input, i) => position.set(input, i));
      if (inputs.length === 0) continue;
      const blend = g.basis === 'structure' ? model.blend : null;
      summaries.set(g, blend
        ? blendedValues(blend, g.compiled.predict(inputs), blend.composition.compiled.predict(inputs.map((x) => ({ formula: x.formula }))), task.coverage)
        : summarise(g, g.compiled.predict(inputs), model.testMae, task.coverage));
    }
    for (const r of routed) {
      results[r.request] = {
        ok: true,
        predictions: r.resolved.map((res, i) => {
          const { group: g, input } = r.routes[i];
          const experts = g.basis === 'structure' && model.blend ? model.blend.gate : g.gate;
          return { ...summaries.get(g)![position.get(input)!], unit: model.unit, basis: g.basis, formula: res.formula, composition: res.composition, experts, warnings: this.warnings(model, res) };
        }),
      };
    }
    return results as GroupResult<MaterialPrediction>[];
  }

  private warnings(model: ThreadModel, r: ResolvedInput): string[] {
    const warnings = [...r.warnings];
    if (model.trainingElements) {
      const unseen = Object.keys(r.composition).filter((el) => !model.trainingElements!.has(el));
      if (unseen.length > 0) warnings.push(`${unseen.join(', ')} never appeared in this model's training data; treat the value with caution`);
    }
    return warnings;
  }
}
