/**
 * Crystal graphs as CGCNN consumes them, and their packing into batches: the atoms of many crystals
 * concatenated, neighbour indices shifted into the batch, one segment id per atom. Batches are sized by atom
 * count (not crystal count): memory grows with atoms x neighbours, and wasm's heap stops at 4 GiB.
 */
import { buildNeighborGraph, gaussianExpand, GRAPH_VERSION } from '../../chem/neighbors.js';
import { atomicNumber } from '../../chem/elements.js';
import { ChemError, type Structure } from '../../chem/types.js';
import { ATOM_FEATURE_LENGTH, writeAtomFeatures } from './atom-features.js';
import type { ExpertInput } from '../experts/expert-kind.js';

export { GRAPH_VERSION };

export const MAX_NEIGHBORS = 12;
export const NEIGHBOR_RADIUS = 8;
export const GAUSSIANS = 41;
/** A safe default for one forward pass on wasm (~20k atoms x 12 neighbours stays far below 4 GiB). */
export const DEFAULT_MAX_BATCH_ATOMS = 16384;

export interface CrystalGraph {
  /** One per site. */
  atomicNumbers: Int32Array;
  /** nSites x maxNeighbors, row-major, site indices within this crystal; padding = 0. */
  nbrIdx: Int32Array;
  /** Same layout, Å; padding = radius + 1. */
  nbrDist: Float32Array;
  maxNeighbors: number;
}

export function graphSites(g: CrystalGraph): number {
  return g.atomicNumbers.length;
}

/** CGCNN needs one element per site: disordered sites (several species or occupancy < 1) are rejected. */
export function crystalGraph(s: Structure): CrystalGraph {
  if (s.sites.length === 0) throw new ChemError('structure_empty', 'the structure has no sites');
  const z = new Int32Array(s.sites.length);
  s.sites.forEach((site, i) => {
    if (site.species.length !== 1 || Math.abs(site.species[0].occu - 1) > 1e-6) {
      throw new ChemError('structure_disordered', `site ${i} is partially occupied or mixed; CGCNN experts need an ordered structure`);
    }
    const el = site.species[0].element.replace(/[0-9+-]+$/, '');
    const n = atomicNumber(el);
    if (n === undefined) throw new ChemError('element_unknown', `site ${i}: "${site.species[0].element}" is not an element`);
    z[i] = n;
  });
  const g = buildNeighborGraph(s, { radius: NEIGHBOR_RADIUS, maxNeighbors: MAX_NEIGHBORS });
  return { atomicNumbers: z, nbrIdx: g.nbrIdx, nbrDist: g.nbrDist, maxNeighbors: g.maxNeighbors };
}

export interface GraphBatch {
  nCrystals: number;
  nAtoms: number;
  maxNeighbors: number;
  /** [nAtoms, 92]. */
  atomFea: Float32Array;
  /** [nAtoms * maxNeighbors], indices into the batch's atoms. */
  nbrIdx: Int32Array;
  /** [nAtoms * maxNeighbors, 41]. */
  edgeFea: Float32Array;
  /** [nAtoms]: which crystal of the batch each atom belongs to. */
  segmentIds: Int32Array;
  /** [nCrystals]. */
  atomCounts: Int32Array;
}

export function packGraphs(graphs: readonly CrystalGraph[], rows: ArrayLike<number>): GraphBatch {
  const M = rows.length > 0 ? graphs[rows[0]].maxNeighbors : MAX_NEIGHBORS;
  let nAtoms = 0;
  for (let r = 0; r < rows.length; r++) {
    const g = graphs[rows[r]];
    if (g.maxNeighbors !== M) throw new Error('all graphs in a batch need the same maxNeighbors');
    nAtoms += graphSites(g);
  }
  const atomFea = new Float32Array(nAtoms * ATOM_FEATURE_LENGTH);
  const nbrIdx = new Int32Array(nAtoms * M);
  const dist = new Float32Array(nAtoms * M);
  const segmentIds = new Int32Array(nAtoms);
  const atomCounts = new Int32Array(rows.length);
  let base = 0;
  for (let r = 0; r < rows.length; r++) {
    const g = graphs[rows[r]];
    const n = graphSites(g);
    for (let i = 0; i < n; i++) writeAtomFeatures(g.atomicNumbers[i], atomFea, (base + i) * ATOM_FEATURE_LENGTH);
    for (let e = 0; e < n * M; e++) nbrIdx[base * M + e] = g.nbrIdx[e] + base;
    dist.set(g.nbrDist, base * M);
    segmentIds.fill(r, base, base + n);
    atomCounts[r] = n;
    base += n;
  }
  return { nCrystals: rows.length, nAtoms, maxNeighbors: M, atomFea, nbrIdx, edgeFea: gaussianExpand(dist), segmentIds, atomCounts };
}

/** Splits `rows` (in order) into consecutive groups of at most `maxAtoms` atoms; a crystal larger than that gets a group of its own. */
export function batchesByAtoms(graphs: readonly CrystalGraph[], rows: ArrayLike<number>, maxAtoms = DEFAULT_MAX_BATCH_ATOMS): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let atoms = 0;
  for (let r = 0; r < rows.length; r++) {
    const n = graphSites(graphs[rows[r]]);
    if (cur.length > 0 && atoms + n > maxAtoms) {
      out.push(cur);
      cur = [];
      atoms = 0;
    }
    cur.push(rows[r]);
    atoms += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * A whole dataset's graphs in flat arrays, with the Gaussian edge features expanded once: training assembles
 * every batch of every epoch from here without repeating that work.
 */
export interface GraphStore {
  nCrystals: number;
  maxNeighbors: number;
  /** [nCrystals + 1]: crystal r owns atoms atomOffsets[r] .. atomOffsets[r + 1] - 1. */
  atomOffsets: Int32Array;
  atomicNumbers: Int32Array;
  /** [totalAtoms * maxNeighbors], indices within the crystal. */
  nbrIdx: Int32Array;
  /** [totalAtoms * maxNeighbors], Å. */
  nbrDist: Float32Array;
  /** [totalAtoms * maxNeighbors, 41]. */
  edgeFea: Float32Array;
}

export function graphStore(graphs: readonly CrystalGraph[]): GraphStore {
  const M = graphs.length > 0 ? graphs[0].maxNeighbors : MAX_NEIGHBORS;
  const atomOffsets = new Int32Array(graphs.length + 1);
  graphs.forEach((g, r) => {
    if (g.maxNeighbors !== M) throw new Error('all graphs of a dataset need the same maxNeighbors');
    atomOffsets[r + 1] = atomOffsets[r] + graphSites(g);
  });
  const total = atomOffsets[graphs.length];
  const atomicNumbers = new Int32Array(total);
  const nbrIdx = new Int32Array(total * M);
  const dist = new Float32Array(total * M);
  graphs.forEach((g, r) => {
    atomicNumbers.set(g.atomicNumbers, atomOffsets[r]);
    nbrIdx.set(g.nbrIdx, atomOffsets[r] * M);
    dist.set(g.nbrDist, atomOffsets[r] * M);
  });
  return { nCrystals: graphs.length, maxNeighbors: M, atomOffsets, atomicNumbers, nbrIdx, nbrDist: dist, edgeFea: gaussianExpand(dist) };
}

export function storeAtoms(store: GraphStore, rows: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < rows.length; i++) n += store.atomOffsets[rows[i] + 1] - store.atomOffsets[rows[i]];
  return n;
}

/** Same as `packGraphs`, from a store. */
export function storeBatch(store: GraphStore, rows: ArrayLike<number>): GraphBatch {
  const M = store.maxNeighbors;
  const nAtoms = storeAtoms(store, rows);
  const atomFea = new Float32Array(nAtoms * ATOM_FEATURE_LENGTH);
  const nbrIdx = new Int32Array(nAtoms * M);
  const edgeFea = new Float32Array(nAtoms * M * GAUSSIANS);
  const segmentIds = new Int32Array(nAtoms);
  const atomCounts = new Int32Array(rows.length);
  let base = 0;
  for (let i = 0; i < rows.length; i++) {
    const a0 = store.atomOffsets[rows[i]];
    const n = store.atomOffsets[rows[i] + 1] - a0;
    for (let a = 0; a < n; a++) writeAtomFeatures(store.atomicNumbers[a0 + a], atomFea, (base + a) * ATOM_FEATURE_LENGTH);
    for (let e = 0; e < n * M; e++) nbrIdx[base * M + e] = store.nbrIdx[a0 * M + e] + base;
    edgeFea.set(store.edgeFea.subarray(a0 * M * GAUSSIANS, (a0 + n) * M * GAUSSIANS), base * M * GAUSSIANS);
    segmentIds.fill(i, base, base + n);
    atomCounts[i] = n;
    base += n;
  }
  return { nCrystals: rows.length, nAtoms, maxNeighbors: M, atomFea, nbrIdx, edgeFea, segmentIds, atomCounts };
}

/** `batchesByAtoms` on a store. */
export function storeBatchesByAtoms(store: GraphStore, rows: ArrayLike<number>, maxAtoms = DEFAULT_MAX_BATCH_ATOMS): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let atoms = 0;
  for (let i = 0; i < rows.length; i++) {
    const n = store.atomOffsets[rows[i] + 1] - store.atomOffsets[rows[i]];
    if (cur.length > 0 && atoms + n > maxAtoms) {
      out.push(cur);
      cur = [];
      atoms = 0;
    }
    cur.push(rows[i]);
    atoms += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export function graphsOf(inputs: readonly ExpertInput[]): CrystalGraph[] {
  return inputs.map((x, i) => {
    if (!x.graph) throw new ChemError('structure_required', `input ${i} has no crystal structure; CGCNN experts need one`);
    return x.graph;
  });
}
