/**
 * CGCNN as a mixture expert. The frozen prefix (embedding and the first 4 - L convs; the paper fine-tunes
 * L = 1) runs once per dataset in `prepare` and its atom states are kept. A training step then only runs the
 * last L convs, pooling and softplus for the rows of the batch.
 *
 * With L = 1 (the paper) the step runs on the symmetry-reduced graph of dedupe.ts: one representative per class of
 * equivalent atoms, one edge per distinct (neighbour state, distance). The layer is split by input block:
 * e·W_edge per edge, x·W_nbr and x·W_self once per distinct frozen state and gathered onto edges. Later trainable
 * convs (L > 1), training from scratch and `dedupeTolerance: null` take the plain path: every atom, 12 slots each,
 * with per-edge inputs U = [x_j, e_ij] for the first trainable conv and the gather form after it.
 */
import { tf } from '../tf.js';
import { ChemError } from '../../chem/types.js';
import { ATOM_FEATURE_LENGTH, writeAtomFeatures } from './atom-features.js';
import { GAUSSIANS, graphStore, storeAtoms, storeBatch, storeBatchesByAtoms, type CrystalGraph, type GraphStore } from './batching.js';
import { atomStates, batchTensors, BN_EPS, cgcnnTensors, disposeBatchTensors, disposeCgcnnTensors, meanPool } from './forward.js';
import { checkStateDict, cloneStateDict, PAPER_DIMS, type StateDict } from './weights.js';
import { cgcnnEmbeddings, EMBEDDING_DIM } from './shipped.js';
import { dedupeGraphs, type DedupedGraphs } from './dedupe.js';
import { adaptFrozenBatchNorm } from './adapt-batchnorm.js';
import { createHash } from 'node:crypto';
import type { ExpertKind, ExpertWeights, MaterialInput, RowsRef, TrainableExpert, TrainableOptions } from '../experts/expert-kind.js';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

const BN_MOMENTUM = 0.1;

export function graphsOf(inputs: readonly MaterialInput[]): CrystalGraph[] {
  return inputs.map((x, i) => {
    if (!x.graph) throw new ChemError('structure_required', `input ${i} has no crystal structure; CGCNN experts need one`);
    return x.graph;
  });
}

const stores = new WeakMap<readonly MaterialInput[], GraphStore>();

/** One store per dataset, shared by every CGCNN expert that prepares on the same inputs array. */
function storeFor(inputs: readonly MaterialInput[]): GraphStore {
  let s = stores.get(inputs);
  if (!s) {
    s = graphStore(graphsOf(inputs));
    stores.set(inputs, s);
  }
  return s;
}

const dedupes = new WeakMap<GraphStore, Map<string, DedupedGraphs>>();
/**
 * Frozen atom states (and the frozen weights they came from) per dataset, per expert, per (frozen depth, BatchNorm
 * mode, statistics rows): runs on other seeds reuse them when nothing that shapes them differs.
 */
const prefixes = new WeakMap<GraphStore, WeakMap<StateDict, Map<string, { prefix: Float32Array; weights: StateDict }>>>();

function rowsKey(rows: ArrayLike<number>): string {
  return createHash('sha1').update(Buffer.from(Int32Array.from(rows).buffer)).digest('hex');
}

function dedupeFor(store: GraphStore, frozenConvs: number, tolerance: number): DedupedGraphs {
  let m = dedupes.get(store);
  if (!m) {
    m = new Map();
    dedupes.set(store, m);
  }
  const key = `${frozenConvs}:${tolerance}`;
  let d = m.get(key);
  if (!d) {
    d = dedupeGraphs(store, frozenConvs, tolerance);
    m.set(key, d);
  }
  return d;
}

interface ConvVars {
  prefix: string;
  weight: tf.Variable; // [128, 169], PyTorch layout
  bias: tf.Variable;
  bn1g: tf.Variable;
  bn1b: tf.Variable;
  bn2g: tf.Variable;
  bn2b: tf.Variable;
  rm1: tf.Variable;
  rv1: tf.Variable;
  rm2: tf.Variable;
  rv2: tf.Variable;
}

interface BatchStats {
  conv: ConvVars;
  mean1: T1;
  var1: T1;
  n1: number;
  mean2: T1;
  var2: T1;
  n2: number;
}

/** Inputs of one forward over a set of rows, as tensors. */
interface Assembled {
  nCrystals: number;
  segmentIds: T1;
  counts: T2;
  /** Frozen atom states [N, 64] (or atom features [N, 92] from scratch). */
  x: T2;
  /** [E, 64 + 41] per-edge [x_j, e_ij] of frozen states (fine-tuning only). */
  u?: T2;
  /** uᵀ, assembled alongside for training steps: the weight gradient uᵀ·dZ then needs no transpose of u. */
  ut?: T2;
  nbrIdx?: T1;
  edgeFea?: T2;
  /** Precomputed embeddings when nothing trains. */
  embeddings?: T2;
  /** Deduplicated form: x holds the representatives' states, u the merged edges' mean Gaussians [E, 41]. */
  dd?: {
    /** [C, 64] states of the distinct neighbours, and each edge's row in it. */
    nbrStates: T2;
    edgeNbr: T1;
    edgeDst: T1;
    edgeMult: T2;
    /** Original slots per merged edge (multiplicity x class size): BatchNorm weights. */
    edgeSlots: T2;
    slotsTotal: number;
    repCount: T2;
    repSeg: T1;
    atomsTotal: number;
  };
}

function assembledTensors(a: Assembled): tf.Tensor[] {
  const d = a.dd;
  return [a.segmentIds, a.counts, a.x, a.u, a.ut, a.nbrIdx, a.edgeFea, a.embeddings, d?.nbrStates, d?.edgeNbr, d?.edgeDst, d?.edgeMult, d?.edgeSlots, d?.repCount, d?.repSeg].filter(
    (t): t is NonNullable<typeof t> => t !== undefined,
  );
}

function disposeAssembled(a: Assembled): void {
  tf.dispose(assembledTensors(a));
}

/** Weighted mean and (biased) variance over rows: [E, A] with weights [E, 1] summing to `total`. */
function weightedMoments(z: T2, w: T2, total: number): { mean: T1; variance: T1 } {
  const mean = tf.div(tf.sum(tf.mul(z, w), 0), total) as T1;
  const variance = tf.div(tf.sum(tf.mul(tf.square(tf.sub(z, mean)), w), 0), total) as T1;
  return { mean, variance };
}

/**
 * The conv's Linear(169→128), [169, 128] with rows = [x_i | x_j | e_ij]; with running statistics the first BatchNorm
 * is folded into it (w·γ/√(σ²+ε), (b − μ)·γ/√(σ²+ε) + β).
 */
function convLinear(v: ConvVars, useBatchStats: boolean): { w: T2; b: T1 } {
  const wt = tf.transpose(v.weight) as T2;
  if (useBatchStats) return { w: wt, b: v.bias as unknown as T1 };
  const scale = tf.div(v.bn1g, tf.sqrt(tf.add(v.rv1, BN_EPS))) as T1;
  return { w: tf.mul(wt, scale) as T2, b: tf.add(tf.mul(tf.sub(v.bias, v.rm1), scale), v.bn1b) as T1 };
}

/**
 * The fine-tuned last conv on merged edges (dedupe.ts): per merged edge z = W·[x_i, x_j, e] + b, gated terms
 * weighted by multiplicity, summed onto representatives, BatchNorm statistics weighted by the slots they stand for.
 */
function dedupedConv(a: Assembled, v: ConvVars, A: number, useBatchStats: boolean, stats: BatchStats[] | null): T2 {
  const d = a.dd!;
  const u = a.u!;
  const { w, b } = convLinear(v, useBatchStats);
  // z = e·W_edge + (x_nbr·W_nbr)[nbr] + (x_self·W_self + b)[dst]: the products with states run once per distinct
  // state, the per-edge product only over the 41 Gaussians (uᵀ is supplied so its gradient needs no transpose).
  const ut = a.ut;
  const wSelf = tf.slice(w, [0, 0], [A, 2 * A]) as T2;
  const wNbr = tf.slice(w, [A, 0], [A, 2 * A]) as T2;
  const wEdge = tf.slice(w, [2 * A, 0], [w.shape[0] - 2 * A, 2 * A]) as T2;
  const edgeTerm = ut
    ? tf.customGrad(((wIn: tf.Tensor, save: tf.GradSaveFunc) => {
        // The forward scope is freed before backprop: what the gradient reads must go through save().
        save([ut]);
        return { value: tf.matMul(u, wIn as T2), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(saved[0] as T2, dy as T2) };
      }) as unknown as Parameters<typeof tf.customGrad>[0])(wEdge)
    : tf.matMul(u, wEdge);
  const selfTerm = tf.add(tf.matMul(a.x, wSelf), b);
  const zAll = tf.add(tf.add(edgeTerm, tf.gather(tf.matMul(d.nbrStates, wNbr), d.edgeNbr)), tf.gather(selfTerm, d.edgeDst)) as T2;
  const halves: T2[] = [];
  const means: T1[] = [];
  const vars: T1[] = [];
  for (const h of [0, 1] as const) {
    let z = tf.slice(zAll, [0, h * A], [-1, A]) as T2;
    if (useBatchStats) {
      const m = weightedMoments(z, d.edgeSlots, d.slotsTotal);
      const scale = tf.div(tf.slice(v.bn1g, [h * A], [A]), tf.sqrt(tf.add(m.variance, BN_EPS)));
      z = tf.add(tf.mul(tf.sub(z, m.mean), scale), tf.slice(v.bn1b, [h * A], [A])) as T2;
      means.push(m.mean);
      vars.push(m.variance);
    }
    halves.push(z);
  }
  const gated = tf.mul(tf.mul(tf.sigmoid(halves[0]), tf.softplus(halves[1])), d.edgeMult);
  let summed = tf.unsortedSegmentSum(gated, d.edgeDst, a.x.shape[0]) as T2;
  if (useBatchStats) {
    const m2 = weightedMoments(summed, d.repCount, d.atomsTotal);
    summed = tf.add(tf.mul(tf.sub(summed, m2.mean), tf.div(v.bn2g, tf.sqrt(tf.add(m2.variance, BN_EPS)))), v.bn2b) as T2;
    if (stats) {
      stats.push({
        conv: v,
        mean1: tf.keep(tf.concat(means)) as T1,
        var1: tf.keep(tf.concat(vars)) as T1,
        n1: d.slotsTotal,
        mean2: tf.keep(m2.mean),
        var2: tf.keep(m2.variance),
        n2: d.atomsTotal,
      });
    }
  } else {
    summed = tf.add(tf.mul(tf.sub(summed, v.rm2), tf.div(v.bn2g, tf.sqrt(tf.add(v.rv2, BN_EPS)))), v.bn2b) as T2;
  }
  const x4 = tf.softplus(tf.add(a.x, summed)) as T2;
  return tf.softplus(meanPool(tf.mul(x4, d.repCount) as T2, d.repSeg, a.counts, a.nCrystals)) as T2;
}

function softplusBn(
  input: { x: T2; pre: (half: 0 | 1, w: T2) => T3 },
  v: ConvVars,
  A: number,
  useBatchStats: boolean,
  stats: BatchStats[] | null,
): T2 {
  const { w, b } = convLinear(v, useBatchStats);
  const halves: T3[] = [];
  const means: T1[] = [];
  const vars: T1[] = [];
  for (const h of [0, 1] as const) {
    const wSelf = tf.slice(w, [0, h * A], [A, A]) as T2;
    const wRest = tf.slice(w, [A, h * A], [w.shape[0] - A, A]) as T2;
    const selfTerm = tf.add(tf.matMul(input.x, wSelf), tf.slice(b, [h * A], [A]));
    let pre = tf.add(input.pre(h, wRest), tf.expandDims(selfTerm, 1)) as T3;
    if (useBatchStats) {
      const m = tf.moments(pre, [0, 1]);
      const scale = tf.div(tf.slice(v.bn1g, [h * A], [A]), tf.sqrt(tf.add(m.variance, BN_EPS)));
      pre = tf.add(tf.mul(tf.sub(pre, m.mean), scale), tf.slice(v.bn1b, [h * A], [A])) as T3;
      means.push(m.mean as T1);
      vars.push(m.variance as T1);
    }
    halves.push(pre);
  }
  let summed = tf.sum(tf.mul(tf.sigmoid(halves[0]), tf.softplus(halves[1])), 1) as T2;
  if (useBatchStats) {
    const m2 = tf.moments(summed, 0);
    summed = tf.add(tf.mul(tf.sub(summed, m2.mean), tf.div(v.bn2g, tf.sqrt(tf.add(m2.variance, BN_EPS)))), v.bn2b) as T2;
    if (stats) {
      const N = input.x.shape[0];
      stats.push({
        conv: v,
        mean1: tf.keep(tf.concat(means)) as T1,
        var1: tf.keep(tf.concat(vars)) as T1,
        n1: halves[0].shape[0] * halves[0].shape[1],
        mean2: tf.keep(m2.mean) as T1,
        var2: tf.keep(m2.variance) as T1,
        n2: N,
      });
    }
  } else {
    const scale2 = tf.div(v.bn2g, tf.sqrt(tf.add(v.rv2, BN_EPS)));
    summed = tf.add(tf.mul(tf.sub(summed, v.rm2), scale2), v.bn2b) as T2;
  }
  return tf.softplus(tf.add(input.x, summed)) as T2;
}

class CgcnnTrainable implements TrainableExpert {
  readonly kind = 'cgcnn';
  readonly dim = EMBEDDING_DIM;
  readonly variables: tf.Variable[] = [];
  private readonly named = new Map<string, tf.Variable>();
  private readonly convs: ConvVars[] = [];
  private embW: tf.Variable | null = null;
  private embB: tf.Variable | null = null;
  private readonly nConv: number;
  private readonly firstTrainable: number;
  private store: GraphStore | null = null;
  /** Frozen atom states after conv `firstTrainable - 1`, [totalAtoms, 64]. */
  private prefix: Float32Array | null = null;
  /** Frozen embeddings [nCrystals, 64] when nothing trains. */
  private frozenEmb: Float32Array | null = null;
  private dd: DedupedGraphs | null = null;
  /** The shipped weights, with frozen BatchNorm statistics re-estimated when frozenBatchNorm is 'target'. */
  private frozenWeights: StateDict;
  private readonly cache = new Map<string, Assembled>();
  private pending: BatchStats[] = [];

  constructor(
    private readonly base: ExpertWeights,
    private readonly opts: TrainableOptions,
  ) {
    this.key = base.key;
    this.frozenWeights = base.weights;
    this.nConv = PAPER_DIMS.nConv;
    const L = opts.scratch ? this.nConv : Math.max(0, Math.min(this.nConv, Math.floor(opts.finetuneLayers)));
    this.firstTrainable = this.nConv - L;
    const sd = base.weights;
    const mk = (name: string, trainable: boolean): tf.Variable => {
      const t = sd.get(name)!;
      const init = tf.tensor(t.data, t.shape);
      const v = tf.variable(init, trainable);
      init.dispose();
      this.named.set(name, v);
      if (trainable) this.variables.push(v);
      return v;
    };
    if (opts.scratch) {
      this.embW = mk('embedding.weight', true);
      this.embB = mk('embedding.bias', true);
    }
    for (let c = this.firstTrainable; c < this.nConv; c++) {
      const p = `convs.${c}.`;
      this.convs.push({
        prefix: p,
        weight: mk(p + 'fc_full.weight', true),
        bias: mk(p + 'fc_full.bias', true),
        bn1g: mk(p + 'bn1.weight', true),
        bn1b: mk(p + 'bn1.bias', true),
        bn2g: mk(p + 'bn2.weight', true),
        bn2b: mk(p + 'bn2.bias', true),
        rm1: mk(p + 'bn1.running_mean', false),
        rv1: mk(p + 'bn1.running_var', false),
        rm2: mk(p + 'bn2.running_mean', false),
        rv2: mk(p + 'bn2.running_var', false),
      });
    }
  }

  readonly key: string;

  prepare(inputs: readonly MaterialInput[], popts: { statRows?: ArrayLike<number> } = {}): void {
    const store = storeFor(inputs);
    this.store = store;
    this.clearCache();
    if (this.opts.scratch) return;
    const nFrozen = Math.min(this.firstTrainable, this.nConv);
    const adapt = this.opts.frozenBatchNorm === 'target';
    if (adapt && !popts.statRows) throw new Error(`expert ${this.key}: frozenBatchNorm 'target' needs the training rows`);
    let byWeights = prefixes.get(store);
    if (!byWeights) {
      byWeights = new WeakMap();
      prefixes.set(store, byWeights);
    }
    let byKey = byWeights.get(this.base.weights);
    if (!byKey) {
      byKey = new Map();
      byWeights.set(this.base.weights, byKey);
    }
    const key = `${nFrozen}|${adapt && popts.statRows ? rowsKey(popts.statRows) : 'source'}`;
    let hit = byKey.get(key);
    if (!hit) {
      const weights = adapt && popts.statRows ? adaptFrozenBatchNorm(this.base.weights, store, popts.statRows, nFrozen, this.opts.maxBatchAtoms) : this.base.weights;
      const prefix = this.firstTrainable === this.nConv ? cgcnnEmbeddings(weights, graphsOf(inputs), this.opts.maxBatchAtoms) : this.computePrefix(store, weights);
      hit = { prefix, weights };
      byKey.set(key, hit);
    }
    this.frozenWeights = hit.weights;
    if (this.firstTrainable === this.nConv) {
      this.frozenEmb = hit.prefix;
      return;
    }
    this.prefix = hit.prefix;
    if (this.convs.length === 1 && this.opts.dedupeTolerance !== null) this.dd = dedupeFor(store, this.firstTrainable, this.opts.dedupeTolerance);
  }

  /** Atom states after the frozen convs, for every atom of the dataset (inference mode, batched by atoms). */
  private computePrefix(store: GraphStore, weights: StateDict): Float32Array {
    const all = Array.from({ length: store.nCrystals }, (_, i) => i);
    const t = cgcnnTensors(weights);
    try {
      const A = EMBEDDING_DIM;
      const prefix = new Float32Array(store.atomOffsets[store.nCrystals] * A);
      for (const group of storeBatchesByAtoms(store, all, this.opts.maxBatchAtoms)) {
        const b = batchTensors(storeBatch(store, group));
        try {
          const x = tf.tidy(() => atomStates(t, b, this.firstTrainable));
          prefix.set(x.dataSync(), store.atomOffsets[group[0]] * A);
          x.dispose();
        } finally {
          disposeBatchTensors(b);
        }
      }
      return prefix;
    } finally {
      disposeCgcnnTensors(t);
    }
  }

  /** Builds the batch tensors in JavaScript: row-block copies out of the prepared arrays. */
  private assemble(rows: Int32Array, withTranspose = false): Assembled {
    const store = this.store;
    if (!store) throw new Error(`expert ${this.key}: prepare() was not called`);
    const B = rows.length;
    if (this.frozenEmb) {
      const e = new Float32Array(B * EMBEDDING_DIM);
      for (let i = 0; i < B; i++) e.set(this.frozenEmb.subarray(rows[i] * EMBEDDING_DIM, (rows[i] + 1) * EMBEDDING_DIM), i * EMBEDDING_DIM);
      return { nCrystals: B, segmentIds: tf.tensor1d([], 'int32'), counts: tf.zeros([0, 1]), x: tf.zeros([0, 1]), embeddings: tf.tensor2d(e, [B, EMBEDDING_DIM]) };
    }
    if (this.dd && this.prefix) return this.assembleDeduped(rows, this.dd, this.prefix, withTranspose);
    const M = store.maxNeighbors;
    const N = storeAtoms(store, rows);
    const E = N * M;
    const segmentIds = new Int32Array(N);
    const counts = new Float32Array(B);
    const A = this.prefix ? EMBEDDING_DIM : ATOM_FEATURE_LENGTH;
    const x = new Float32Array(N * A);
    const needGather = this.convs.length > 1 || !this.prefix;
    const nbrIdx = needGather ? new Int32Array(E) : null;
    const edgeFea = needGather ? new Float32Array(E * GAUSSIANS) : null;
    const UC = EMBEDDING_DIM + GAUSSIANS;
    const u = this.prefix ? new Float32Array(E * UC) : null;
    let base = 0;
    for (let i = 0; i < B; i++) {
      const a0 = store.atomOffsets[rows[i]];
      const n = store.atomOffsets[rows[i] + 1] - a0;
      segmentIds.fill(i, base, base + n);
      counts[i] = n;
      if (this.prefix) x.set(this.prefix.subarray(a0 * A, (a0 + n) * A), base * A);
      else for (let a = 0; a < n; a++) writeAtomFeatures(store.atomicNumbers[a0 + a], x, (base + a) * A);
      if (nbrIdx && edgeFea) {
        for (let e = 0; e < n * M; e++) nbrIdx[base * M + e] = store.nbrIdx[a0 * M + e] + base;
        edgeFea.set(store.edgeFea.subarray(a0 * M * GAUSSIANS, (a0 + n) * M * GAUSSIANS), base * M * GAUSSIANS);
      }
      if (u && this.prefix) {
        const p = this.prefix;
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

  private assembleDeduped(rows: Int32Array, dd: DedupedGraphs, prefix: Float32Array, withTranspose: boolean): Assembled {
    const store = this.store!;
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

  /**
   * Must run inside a tf.tidy or tf.variableGrads scope: the batch tensors assembled here are left to that scope,
   * because the backward pass of a training step still reads them after this returns.
   */
  embed(ref: RowsRef, training: boolean): T2 {
    if (ref.cacheKey === undefined) return this.forward(this.assemble(ref.rows, training), training);
    let a = this.cache.get(ref.cacheKey);
    if (!a) {
      a = this.assemble(ref.rows);
      assembledTensors(a).forEach((t) => tf.keep(t));
      this.cache.set(ref.cacheKey, a);
    }
    return this.forward(a, training);
  }

  private forward(a: Assembled, training: boolean): T2 {
    return tf.tidy(() => {
      if (a.embeddings) return tf.clone(a.embeddings);
      const useBatch = training && this.opts.batchNorm === 'batch';
      const stats = useBatch ? this.pending : null;
      if (a.dd) return dedupedConv(a, this.convs[0], EMBEDDING_DIM, useBatch, stats);
      const M = this.store!.maxNeighbors;
      const A = EMBEDDING_DIM;
      let x = a.x;
      if (this.embW && this.embB) x = tf.add(tf.matMul(x, this.embW, false, true), this.embB) as T2;
      this.convs.forEach((v, i) => {
        const N = x.shape[0];
        const cur = x;
        if (i === 0 && a.u) {
          const u = a.u;
          x = softplusBn({ x: cur, pre: (_h, w) => tf.reshape(tf.matMul(u, w), [N, M, A]) as T3 }, v, A, useBatch, stats);
        } else {
          const nbrIdx = a.nbrIdx!;
          const edgeFea = a.edgeFea!;
          x = softplusBn(
            {
              x: cur,
              pre: (_h, w) => {
                const wNbr = tf.slice(w, [0, 0], [A, A]) as T2;
                const wEdge = tf.slice(w, [A, 0], [w.shape[0] - A, A]) as T2;
                return tf.reshape(tf.add(tf.gather(tf.matMul(cur, wNbr), nbrIdx), tf.matMul(edgeFea, wEdge)), [N, M, A]) as T3;
              },
            },
            v,
            A,
            useBatch,
            stats,
          );
        }
      });
      return tf.softplus(meanPool(x, a.segmentIds, a.counts, a.nCrystals)) as T2;
    });
  }

  afterStep(): void {
    for (const s of this.pending) {
      tf.tidy(() => {
        const upd = (rm: tf.Variable, rv: tf.Variable, mean: T1, variance: T1, n: number) => {
          rm.assign(tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
          rv.assign(tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(variance, (BN_MOMENTUM * n) / Math.max(1, n - 1))));
        };
        upd(s.conv.rm1, s.conv.rv1, s.mean1, s.var1, s.n1);
        upd(s.conv.rm2, s.conv.rv2, s.mean2, s.var2, s.n2);
      });
      tf.dispose([s.mean1, s.var1, s.mean2, s.var2]);
    }
    this.pending = [];
  }

  snapshot(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.named) out.set(name, v.dataSync() as Float32Array);
    return out;
  }

  restore(s: Map<string, Float32Array>): void {
    for (const [name, v] of this.named) {
      const data = s.get(name);
      if (!data) throw new Error(`snapshot of ${this.key} lacks ${name}`);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    }
  }

  exportWeights(): ExpertWeights {
    const weights = cloneStateDict(this.frozenWeights);
    for (const [name, v] of this.named) weights.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
    return { ...this.base, card: { ...this.base.card }, weights };
  }

  private clearCache(): void {
    for (const a of this.cache.values()) disposeAssembled(a);
    this.cache.clear();
  }

  dispose(): void {
    this.clearCache();
    this.afterStep();
    tf.dispose([...this.named.values()]);
    this.named.clear();
    this.prefix = null;
    this.frozenEmb = null;
  }
}

export const cgcnnKind: ExpertKind = {
  kind: 'cgcnn',
  createTrainable(base: ExpertWeights, opts: TrainableOptions): TrainableExpert {
    this.validate(base);
    return new CgcnnTrainable(base, opts);
  },
  embed(expert: ExpertWeights, inputs: readonly MaterialInput[], maxBatchAtoms?: number): Float32Array {
    return cgcnnEmbeddings(expert.weights, graphsOf(inputs), maxBatchAtoms);
  },
  validate(expert: ExpertWeights): void {
    checkStateDict(expert.weights, PAPER_DIMS);
  },
};
