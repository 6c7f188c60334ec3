/**
 * Symmetry bookkeeping that makes fine-tuning cheap without changing the model.
 *
 * In a crystal, symmetry-equivalent atoms have identical CGCNN states at every layer, and an atom often has
 * several neighbours that are images of one atom at one distance (each contributing the same gated term). So the
 * last conv layer only needs one representative atom per equivalence class, weighted by the class size in the
 * mean pooling, and one edge per distinct (neighbour class, distance), weighted by its multiplicity.
 *
 * Equivalence is found by colour refinement (Weisfeiler-Lehman) on the neighbour graph, exactly as the network
 * propagates information: round 0 colours atoms by element, round r by (own colour, multiset of (neighbour
 * colour, distance)). After r rounds equal colours mean equal states after r convs. Distances are compared on a
 * grid of `tolerance` Å: coordinates in the task files carry 8 significant digits, so equivalent distances can
 * differ by ~1e-5 Å. Merged edges use the mean of their Gaussian features, which keeps the linear part of the
 * layer exact; what remains is second order in those ~1e-5 Å differences (test: embeddings agree to 1e-5).
 */
import { GAUSSIANS, type GraphStore } from './batching.js';

export const DEFAULT_DEDUPE_TOLERANCE = 1e-4;

export interface DedupedGraphs {
  /** [nCrystals + 1]: representatives of crystal r are repOffsets[r] .. repOffsets[r + 1] - 1. */
  repOffsets: Int32Array;
  /** Global atom index (into the store) of each representative. */
  repAtom: Int32Array;
  /** How many atoms each representative stands for. */
  repCount: Float32Array;
  /** [nReps + 1]: edges of representative q are edgeOffsets[q] .. edgeOffsets[q + 1] - 1. */
  edgeOffsets: Int32Array;
  /** Global atom index of the edge's neighbour (the first atom of its state class). */
  edgeNbr: Int32Array;
  /** How many of the 12 neighbour slots the edge stands for. */
  edgeMult: Float32Array;
  /** [nEdges, 41]: mean Gaussian features of the merged slots. */
  edgeFea: Float32Array;
}

function distKey(d: number, tol: number): number {
  return tol > 0 ? Math.round(d / tol) : d;
}

/** Colours after `rounds` refinement rounds, per atom of one crystal (dense small integers). */
function refine(z: Int32Array, nbr: Int32Array, dist: Float32Array, M: number, rounds: number, tol: number): Int32Array[] {
  const n = z.length;
  const out: Int32Array[] = [];
  let colour = Int32Array.from(z);
  {
    const map = new Map<number, number>();
    colour = colour.map((c) => {
      if (!map.has(c)) map.set(c, map.size);
      return map.get(c)!;
    });
  }
  out.push(colour);
  for (let r = 0; r < rounds; r++) {
    const map = new Map<string, number>();
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const parts: string[] = [];
      for (let m = 0; m < M; m++) parts.push(`${colour[nbr[i * M + m]]}:${distKey(dist[i * M + m], tol)}`);
      parts.sort();
      const sig = `${colour[i]}|${parts.join(',')}`;
      let c = map.get(sig);
      if (c === undefined) {
        c = map.size;
        map.set(sig, c);
      }
      next[i] = c;
    }
    colour = next;
    out.push(colour);
  }
  return out;
}

/**
 * Representatives and merged edges for a last conv layer that follows `frozenConvs` frozen convs
 * (paper: 3).
 */
export function dedupeGraphs(store: GraphStore, frozenConvs: number, tolerance = DEFAULT_DEDUPE_TOLERANCE): DedupedGraphs {
  const M = store.maxNeighbors;
  const distances = store.nbrDist;
  const repAtom: number[] = [];
  const repCount: number[] = [];
  const repOffsets = new Int32Array(store.nCrystals + 1);
  const edgeOffsets: number[] = [0];
  const edgeNbr: number[] = [];
  const edgeMult: number[] = [];
  const edgeFea = new Float32Array(store.nbrIdx.length * GAUSSIANS);
  for (let r = 0; r < store.nCrystals; r++) {
    const a0 = store.atomOffsets[r];
    const n = store.atomOffsets[r + 1] - a0;
    const z = store.atomicNumbers.subarray(a0, a0 + n);
    const nbr = store.nbrIdx.subarray(a0 * M, (a0 + n) * M);
    const dist = distances.subarray(a0 * M, (a0 + n) * M);
    const colours = refine(z, nbr, dist, M, frozenConvs + 1, tolerance);
    const stateColour = colours[frozenConvs]; // equal ⇒ equal states entering the last conv
    const outColour = colours[frozenConvs + 1]; // equal ⇒ equal states leaving it
    // Neighbours are named by the first atom of their state class, so that a batch computes each distinct
    // neighbour state's projection once.
    const firstOfState = new Map<number, number>();
    const stateRep = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!firstOfState.has(stateColour[i])) firstOfState.set(stateColour[i], i);
      stateRep[i] = firstOfState.get(stateColour[i])!;
    }
    const reps = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const q = reps.get(outColour[i]);
      if (q !== undefined) {
        repCount[q]++;
        continue;
      }
      reps.set(outColour[i], repAtom.length);
      repAtom.push(a0 + i);
      repCount.push(1);
      const groups = new Map<string, { j: number; slots: number[] }>();
      for (let m = 0; m < M; m++) {
        const key = `${stateColour[nbr[i * M + m]]}:${distKey(dist[i * M + m], tolerance)}`;
        const g = groups.get(key);
        if (g) g.slots.push(m);
        else groups.set(key, { j: stateRep[nbr[i * M + m]], slots: [m] });
      }
      for (const g of groups.values()) {
        const base = edgeNbr.length * GAUSSIANS;
        edgeNbr.push(a0 + g.j);
        edgeMult.push(g.slots.length);
        const acc = new Float64Array(GAUSSIANS);
        for (const m of g.slots) {
          const src = ((a0 + i) * M + m) * GAUSSIANS;
          for (let k = 0; k < GAUSSIANS; k++) acc[k] += store.edgeFea[src + k];
        }
        for (let k = 0; k < GAUSSIANS; k++) edgeFea[base + k] = acc[k] / g.slots.length;
      }
      edgeOffsets.push(edgeNbr.length);
    }
    repOffsets[r + 1] = repAtom.length;
  }
  return {
    repOffsets,
    repAtom: Int32Array.from(repAtom),
    repCount: Float32Array.from(repCount),
    edgeOffsets: Int32Array.from(edgeOffsets),
    edgeNbr: Int32Array.from(edgeNbr),
    edgeMult: Float32Array.from(edgeMult),
    edgeFea: edgeFea.slice(0, edgeNbr.length * GAUSSIANS),
  };
}
