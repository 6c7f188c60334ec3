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
import { createHash } from 'node:crypto';
import { tf } from '../tf.js';
import type { ExpertInput, ExpertWeights, RowsRef, TrainableExpert, TrainableOptions } from '../experts/expert-kind.js';
import type { StateDict } from '../safetensors.js';
import { adaptFrozenBatchNorm } from './adapt-batchnorm.js';
import { assembleRows, type AssemblySource } from './assemble.js';
import { graphsOf, graphStore, storeBatch, storeBatchesByAtoms, type GraphStore } from './batching.js';
import { dedupeGraphs, type DedupedGraphs } from './dedupe.js';
import { cgcnnEmbeddings, EMBEDDING_DIM } from './expert.js';
import { atomStates, batchTensors, cgcnnTensors, disposeBatchTensors, disposeCgcnnTensors, meanPool } from './forward.js';
import {
  assembledTensors, dedupedConv, disposeAssembled, softplusBn, type Assembled, type BatchStats, type ConvVars, type T1, type T2, type T3,
} from './trainable-layers.js';
import { cloneStateDict, PAPER_DIMS } from './weights.js';

const BN_MOMENTUM = 0.1;

const stores = new WeakMap<readonly ExpertInput[], GraphStore>();

/** One store per dataset, shared by every CGCNN expert that prepares on the same inputs array. */
function storeFor(inputs: readonly ExpertInput[]): GraphStore {
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

export class CgcnnTrainable implements TrainableExpert {
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

  prepare(inputs: readonly ExpertInput[], popts: { statRows?: ArrayLike<number> } = {}): void {
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

  /** What `prepare` computed, for assembling batches. */
  private source(): AssemblySource {
    if (!this.store) throw new Error(`expert ${this.key}: prepare() was not called`);
    return { store: this.store, prefix: this.prefix, frozenEmb: this.frozenEmb, dd: this.dd, trainableConvs: this.convs.length };
  }

  /**
   * Must run inside a tf.tidy or tf.variableGrads scope: the batch tensors assembled here are left to that scope,
   * because the backward pass of a training step still reads them after this returns.
   */
  embed(ref: RowsRef, training: boolean): T2 {
    if (ref.cacheKey === undefined) return this.forward(assembleRows(this.source(), ref.rows, training), training);
    let a = this.cache.get(ref.cacheKey);
    if (!a) {
      a = assembleRows(this.source(), ref.rows);
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
