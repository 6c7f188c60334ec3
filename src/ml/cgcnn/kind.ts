/** CGCNN as an expert kind of the mixture: reads crystal graphs, fine-tunes its last conv layers. */
import type { ExpertKind, ExpertInput, ExpertWeights, TrainableExpert, TrainableOptions } from '../experts/expert-kind.js';
import { ChemError } from '../../chem/types.js';
import { hasAtomFeatures } from './atom-features.js';
import { graphsOf } from './batching.js';
import { cgcnnEmbeddings, cgcnnExpertFromBytes } from './expert.js';
import { CgcnnTrainable } from './trainable.js';
import { checkStateDict, PAPER_DIMS } from './weights.js';

export const cgcnnKind: ExpertKind = {
  kind: 'cgcnn',
  fromBytes: cgcnnExpertFromBytes,
  createTrainable(base: ExpertWeights, opts: TrainableOptions): TrainableExpert {
    this.validate(base);
    return new CgcnnTrainable(base, opts);
  },
  embed(expert: ExpertWeights, inputs: readonly ExpertInput[], maxBatchAtoms?: number): Float32Array {
    return cgcnnEmbeddings(expert.weights, graphsOf(inputs), maxBatchAtoms);
  },
  validate(expert: ExpertWeights): void {
    checkStateDict(expert.weights, PAPER_DIMS);
  },
  check(input: ExpertInput): void {
    if (!input.graph) throw new ChemError('structure_required', 'crystal-graph (CGCNN) experts need a crystal structure: send "structure", "cif" or "poscar" instead of "formula"');
    const bad = [...input.graph.atomicNumbers].find((z) => !hasAtomFeatures(z));
    if (bad !== undefined) throw new ChemError('element_unsupported', `element Z=${bad} is beyond the CGCNN atom-feature table (Z ≤ 100)`);
  },
};
