/**
 * Batches of a prepared dataset as tensors for the trainable layers, built in JavaScript by row-block copies out of the
 * arrays computed once in `prepare`: frozen embeddings, frozen atom states (every atom, or the symmetry-reduced graph of
 * dedupe.ts), or raw atom features when training from scratch.
 */
import { tf } from '../tf.js';
import { ATOM_FEATURE_LENGTH, writeAtomFeatures } from './atom-features.js';
import { GAUSSIANS, storeAtoms, type GraphStore } from './batching.js';
import type { DedupedGraphs } from './dedupe.js';
import { EMBEDDING_DIM } from './expert.js';
import type { Assembled } from './trainable-layers.js';

/** What a prepared CGCNN expert holds for its dataset. */
export interface AssemblySource {
  store: GraphStore;
  /** Frozen atom states after the frozen convs, [totalAtoms, 64]; null from scratch. */
  prefix: Float32Array | null;
  /** Frozen embeddings [nCrystals, 64] when nothing trains. */
  frozenEmb: Float32Array | null;
  dd: DedupedGraphs | null;
  /** Trainable conv layers (the plain path gathers neighbour states when more than one trains). */
  trainableConvs: number;
}

/** Builds the batch tensors in JavaScript: row-block copies out of the prepared arrays. */
export function assembleRows(src: AssemblySource, rows: Int32Array, withTranspose = false): Assembled {
  const store = src.store;
  const B = rows.length;
  if (src.frozenEmb) {
    const e = new Float32Array(B * EMBEDDING_DIM);
    for (let i = 0; i < B; i++) e.set(src.frozenEmb.subarray(rows[i] * EMBEDDING_DIM, (rows[i] + 1) * EMBEDDING_DIM), i * EMBEDDING_DIM);
    return { nCrystals: B, segmentIds: tf.tensor1d([], 'int32'), counts: tf.zeros([0, 1]), x: tf.zeros([0, 1]), embeddings: tf.tensor2d(e, [B, EMBEDDING_DIM]) };
  }
  if (src.dd && src.prefix) return assembleDeduped(store, rows, src.dd, src.prefix, withTranspose);
  const M = store.maxNeighbors;
  const N = storeAtoms(store, rows);
  const E = N * M;
  const segmentIds = new Int32Array(N);
  const counts = new Float32Array(B);
  const A = src.prefix ? EMBEDDING_DIM : ATOM_FEATURE_LENGTH;
  const x = new Float32Array(N * A);
  const needGather = src.trainableConvs > 1 || !src.prefix;
  const nbrIdx = needGather ? new Int32Array(E) : null;
  const edgeFea = needGather ? new Float32Array(E * GAUSSIANS) : null;
  const UC = EMBEDDING_DIM + GAUSSIANS;
  const u = src.prefix ? new Float32Array(E * UC) : null;
  let base = 0;
  for (let i = 0; i < B; i++) {
    const a0 = store.atomOffsets[rows[i]];
    const n = store.atomOffsets[rows[i] + 1] - a0;
    segmentIds.fill(i, base, base + n);
    counts[i] = n;
    if (src.prefix) x.set(src.prefix.subarray(a0 * A, (a0 + n) * A), base * A);
    else for (let a = 0; a < n; a++) writeAtomFeatures(store.atomicNumbers[a0 + a], x, (base + a) * A);
    if (nbrIdx && edgeFea) {
      for (let e = 0; e < n * M; e++) nbrIdx[base * M + e] = store.nbrIdx[a0 * M + e] + base;
      edgeFea.set(store.edgeFea.subarray(a0 * M * GAUSSIANS, (a0 + n) * M * GAUSSIANS), base * M * GAUSSIANS);
    }
    if (u && src.prefix) {
      const p = src.prefix;
      for (let e = 0; e < n * M; e++) {
        const j = a0 + store.nbrIdx[a0 * M + e];
        const dst = (base * M + e) * UC;
        u.set(p.subarray(j * EMBEDDING_DIM, (j + 1) * EMBEDDING_DIM), dst);
        u.set(store.edgeFea.subarray((a0 * M + e) * GAUSSIANS, (a0 * M + e + 1) * GAUSSIANS), dst + EMBEDDING_DIM);
      }
    }
    base += n;
  }
  return {
    nCrystals: B,
    segmentIds: tf.tensor1d(segmentIds, 'int32'),
    counts: tf.tensor2d(counts, [B, 1]),
    x: tf.tensor2d(x, [N, A]),
    u: u ? tf.tensor2d(u, [E, UC]) : undefined,
    nbrIdx: nbrIdx ? tf.tensor1d(nbrIdx, 'int32') : undefined,
    edgeFea: edgeFea ? tf.tensor2d(edgeFea, [E, GAUSSIANS]) : undefined,
  };
}

function assembleDeduped(store: GraphStore, rows: Int32Array, dd: DedupedGraphs, prefix: Float32Array, withTranspose: boolean): Assembled {
  const A = EMBEDDING_DIM;
  const G = GAUSSIANS;
  const B = rows.length;
  let R = 0;
  let E = 0;
  for (let i = 0; i < B; i++) {
    const q0 = dd.repOffsets[rows[i]];
    const q1 = dd.repOffsets[rows[i] + 1];
    R += q1 - q0;
    E += dd.edgeOffsets[q1] - dd.edgeOffsets[q0];
  }
  const x = new Float32Array(R * A);
  const u = new Float32Array(E * G);
  const edgeDst = new Int32Array(E);
  const edgeNbr = new Int32Array(E);
  const edgeMult = new Float32Array(E);
  const edgeSlots = new Float32Array(E);
  const repCount = new Float32Array(R);
  const repSeg = new Int32Array(R);
  const counts = new Float32Array(B);
  const nbrRow = new Map<number, number>();
  const nbrAtoms: number[] = [];
  let q = 0;
  let e = 0;
  let atomsTotal = 0;
  for (let i = 0; i < B; i++) {
    const r = rows[i];
    counts[i] = store.atomOffsets[r + 1] - store.atomOffsets[r];
    atomsTotal += counts[i];
    for (let src = dd.repOffsets[r]; src < dd.repOffsets[r + 1]; src++, q++) {
      const atom = dd.repAtom[src];
      x.set(prefix.subarray(atom * A, (atom + 1) * A), q * A);
      repCount[q] = dd.repCount[src];
      repSeg[q] = i;
      const k0 = dd.edgeOffsets[src];
      const k1 = dd.edgeOffsets[src + 1];
      u.set(dd.edgeFea.subarray(k0 * G, k1 * G), e * G);
      for (let k = k0; k < k1; k++, e++) {
        const j = dd.edgeNbr[k];
        let row = nbrRow.get(j);
        if (row === undefined) {
          row = nbrAtoms.length;
          nbrRow.set(j, row);
          nbrAtoms.push(j);
        }
        edgeNbr[e] = row;
        edgeDst[e] = q;
        edgeMult[e] = dd.edgeMult[k];
        edgeSlots[e] = dd.edgeMult[k] * dd.repCount[src];
      }
    }
  }
  const nbrStates = new Float32Array(nbrAtoms.length * A);
  nbrAtoms.forEach((j, row) => nbrStates.set(prefix.subarray(j * A, (j + 1) * A), row * A));
  let ut: Float32Array | null = null;
  if (withTranspose) {
    ut = new Float32Array(E * G);
    for (let e2 = 0; e2 < E; e2++) {
      const rowOff = e2 * G;
      for (let c = 0; c < G; c++) ut[c * E + e2] = u[rowOff + c];
    }
  }
  return {
    nCrystals: B,
    segmentIds: tf.tensor1d([], 'int32'),
    counts: tf.tensor2d(counts, [B, 1]),
    x: tf.tensor2d(x, [R, A]),
    u: tf.tensor2d(u, [E, G]),
    ut: ut ? tf.tensor2d(ut, [G, E]) : undefined,
    dd: {
      nbrStates: tf.tensor2d(nbrStates, [nbrAtoms.length, A]),
      edgeNbr: tf.tensor1d(edgeNbr, 'int32'),
      edgeDst: tf.tensor1d(edgeDst, 'int32'),
      edgeMult: tf.tensor2d(edgeMult, [E, 1]),
      edgeSlots: tf.tensor2d(edgeSlots, [E, 1]),
      slotsTotal: atomsTotal * store.maxNeighbors,
      repCount: tf.tensor2d(repCount, [R, 1]),
      repSeg: tf.tensor1d(repSeg, 'int32'),
      atomsTotal,
    },
  };
}
