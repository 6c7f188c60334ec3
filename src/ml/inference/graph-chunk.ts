/**
 * Crystal graphs of a chunk of inputs packed for the compiled CGCNN layers, once for all experts, and the mean pool.
 *
 * Edges are grouped by distance: two edges with the same (float32) distance have the same Gaussian features, so the
 * same row of e·W_edge in every conv. Only the distinct distances are expanded and multiplied (on the task crystals
 * of ≤ 20 sites they are 15-26 % of the edges: symmetry repeats them), and each edge points at its row. Likewise the
 * slots of one atom that hold the same (neighbour, distance) (periodic images; 21-28 % of the slots there) add the
 * same term to the neighbour sum: they become one slot with a count. The inputs are the ones cgcnn/batching.ts
 * `packGraphs` gives; only repeated work is skipped.
 */
import { gaussianExpand } from '../../chem/neighbors.js';
import { ATOM_FEATURE_LENGTH, writeAtomFeatures } from '../cgcnn/atom-features.js';
import type { CrystalGraph } from '../cgcnn/batching.js';
import { softplus } from './fast-math.js';

export interface GraphChunk {
  atoms: number;
  maxNeighbors: number;
  /** [atoms, 92]. */
  atomFea: Float32Array;
  /** Atom i's distinct (neighbour, distance) slots are slotStart[i] .. slotStart[i + 1] − 1; [atoms + 1]. */
  slotStart: Int32Array;
  /** Per slot: the neighbour atom (a row of the chunk), its row of `edgeFea`, and how many of the atom's slots it stands for. */
  slotNbr: Int32Array;
  slotRow: Int32Array;
  slotCount: Float32Array;
  /** [distinct distances, 41]. */
  edgeFea: Float32Array;
  distinctDistances: number;
  /** [graphs]: atoms of each crystal (they are consecutive rows). */
  atomCounts: Int32Array;
}

export function packChunk(graphs: readonly CrystalGraph[], from: number, to: number): GraphChunk {
  const M = graphs[from].maxNeighbors;
  let atoms = 0;
  for (let g = from; g < to; g++) {
    if (graphs[g].maxNeighbors !== M) throw new Error('all graphs in a batch need the same maxNeighbors');
    atoms += graphs[g].atomicNumbers.length;
  }
  const atomFea = new Float32Array(atoms * ATOM_FEATURE_LENGTH);
  const slotStart = new Int32Array(atoms + 1);
  const slotNbr = new Int32Array(atoms * M);
  const slotRow = new Int32Array(atoms * M);
  const slotCount = new Float32Array(atoms * M);
  let slots = 0;
  const atomCounts = new Int32Array(to - from);
  const rowOf = new Map<number, number>();
  const distances: number[] = [];
  let base = 0;
  for (let g = from; g < to; g++) {
    const graph = graphs[g];
    const n = graph.atomicNumbers.length;
    for (let a = 0; a < n; a++) {
      writeAtomFeatures(graph.atomicNumbers[a], atomFea, (base + a) * ATOM_FEATURE_LENGTH);
      const first = slots;
      for (let e = a * M; e < (a + 1) * M; e++) {
        const d = graph.nbrDist[e];
        let row = rowOf.get(d);
        if (row === undefined) {
          row = distances.length;
          rowOf.set(d, row);
          distances.push(d);
        }
        const j = graph.nbrIdx[e] + base;
        let s = first;
        while (s < slots && (slotNbr[s] !== j || slotRow[s] !== row)) s++;
        if (s === slots) {
          slotNbr[s] = j;
          slotRow[s] = row;
          slots++;
        }
        slotCount[s]++;
      }
      slotStart[base + a + 1] = slots;
    }
    atomCounts[g - from] = n;
    base += n;
  }
  return {
    atoms,
    maxNeighbors: M,
    atomFea,
    slotStart,
    slotNbr: slotNbr.subarray(0, slots),
    slotRow: slotRow.subarray(0, slots),
    slotCount: slotCount.subarray(0, slots),
    edgeFea: gaussianExpand(distances),
    distinctDistances: distances.length,
    atomCounts,
  };
}

/** out[r] = softplus(mean of crystal r's rows of x), [atoms, A] → [crystals, A]; sums in float64. */
export function meanPoolSoftplus(x: Float32Array, atomCounts: Int32Array, A: number, out: Float32Array): void {
  const acc = new Float64Array(A);
  let atom = 0;
  for (let r = 0; r < atomCounts.length; r++) {
    const count = atomCounts[r];
    acc.fill(0);
    for (let a = 0; a < count; a++, atom++) for (let c = 0; c < A; c++) acc[c] += x[atom * A + c];
    for (let c = 0; c < A; c++) out[r * A + c] = softplus(acc[c] / count);
  }
}
