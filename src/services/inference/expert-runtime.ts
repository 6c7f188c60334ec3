/** The inference thread's side of an expert run on its own: the shipped experts, each predicting its source property. */
import type { MaterialInput } from '../../chem/input-schema.js';
import type { ResolvedInput } from '../../chem/input.js';
import { InvalidInputsError, resolveEach } from '../../chem/resolve-inputs.js';
import { ChemError } from '../../chem/types.js';
import { crystalGraph } from '../../ml/cgcnn/batching.js';
import { predictExpert, type CgcnnCard } from '../../ml/cgcnn/expert.js';
import type { CompositionExpertCard } from '../../ml/composition/card.js';
import { predictFromFeatures } from '../../ml/composition/expert.js';
import { inputComposition } from '../../ml/composition/kind.js';
import { compositionFeatures } from '../../chem/descriptors.js';
import type { ExpertInput } from '../../ml/experts/expert-kind.js';
import { expertKind, type ShippedExpert } from '../../ml/experts/registry.js';
import { overBudget } from './budget.js';
import type { ExpertPrediction, ExpertTask, GroupResult } from './protocol.js';

/**
 * Atoms per forward pass of an expert run on its own. The wasm heap a thread grows for a batch is never given back, so
 * batches stay small: memory stays near its baseline after a 1000-structure request, at little cost in speed.
 */
const EXPERT_BATCH_ATOMS = 512;

export class ExpertRuntime {
  constructor(private readonly experts: ReadonlyMap<string, ShippedExpert>) {}

  run(task: ExpertTask): GroupResult<ExpertPrediction>[] {
    const expert = this.experts.get(task.key);
    if (!expert) throw new Error(`expert ${task.key} is not installed`);
    const kind = expertKind(expert.kind);
    return task.groups.map((inputs): GroupResult<ExpertPrediction> => {
      let resolved: ResolvedInput[];
      let mapped: ExpertInput[];
      try {
        ({ resolved, mapped } = resolveEach(inputs as MaterialInput[], (r) => {
          if (expert.kind === 'cgcnn' && !r.structure) {
            throw new ChemError('structure_required', `expert ${expert.key} is a crystal-graph (CGCNN) model and needs a crystal structure: send "structure", "cif" or "poscar" instead of "formula"`);
          }
          const input: ExpertInput = { formula: r.formula, ...(expert.kind === 'cgcnn' && r.structure ? { graph: crystalGraph(r.structure) } : {}) };
          kind.check(input);
          return input;
        }));
      } catch (err) {
        if (!(err instanceof InvalidInputsError)) throw err;
        return { ok: false, problems: err.problems };
      }
      const refused = overBudget<ExpertPrediction>(resolved, task.budget);
      if (refused) return refused;
      const values = expert.kind === 'cgcnn'
        ? predictExpert(expert as ShippedExpert<CgcnnCard>, mapped.map((m) => m.graph!), EXPERT_BATCH_ATOMS)
        : predictFromFeatures(expert as ShippedExpert<CompositionExpertCard>, stack(mapped.map((m) => compositionFeatures(inputComposition(m)))));
      return { ok: true, predictions: resolved.map((r, i) => ({ value: values[i], formula: r.formula, composition: r.composition, nSites: r.structure?.sites.length ?? null })) };
    });
  }
}

function stack(rows: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}
