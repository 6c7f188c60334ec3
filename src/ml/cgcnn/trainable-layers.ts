/**
 * The trainable layers of a CGCNN expert on assembled batches: the conv layer with BatchNorm in training (batch
 * statistics) or inference (running statistics) form, on the symmetry-reduced graph of dedupe.ts or on every atom.
 */
import { tf } from '../tf.js';
import { BN_EPS, meanPool } from './forward.js';

export type T1 = tf.Tensor1D;
export type T2 = tf.Tensor2D;
export type T3 = tf.Tensor3D;

export interface ConvVars {
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

export interface BatchStats {
  conv: ConvVars;
  mean1: T1;
  var1: T1;
  n1: number;
  mean2: T1;
  var2: T1;
  n2: number;
}

/** Inputs of one forward over a set of rows, as tensors. */
export interface Assembled {
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

export function assembledTensors(a: Assembled): tf.Tensor[] {
  const d = a.dd;
  return [a.segmentIds, a.counts, a.x, a.u, a.ut, a.nbrIdx, a.edgeFea, a.embeddings, d?.nbrStates, d?.edgeNbr, d?.edgeDst, d?.edgeMult, d?.edgeSlots, d?.repCount, d?.repSeg].filter(
    (t): t is NonNullable<typeof t> => t !== undefined,
  );
}

export function disposeAssembled(a: Assembled): void {
  tf.dispose(assembledTensors(a));
}

/** Weighted mean and (biased) variance over rows: [E, A] with weights [E, 1] summing to `total`. */
export function weightedMoments(z: T2, w: T2, total: number): { mean: T1; variance: T1 } {
  const mean = tf.div(tf.sum(tf.mul(z, w), 0), total) as T1;
  const variance = tf.div(tf.sum(tf.mul(tf.square(tf.sub(z, mean)), w), 0), total) as T1;
  return { mean, variance };
}

/**
 * The conv's Linear(169→128), [169, 128] with rows = [x_i | x_j | e_ij]; with running statistics the first BatchNorm
 * is folded into it (w·γ/√(σ²+ε), (b − μ)·γ/√(σ²+ε) + β).
 */
export function convLinear(v: ConvVars, useBatchStats: boolean): { w: T2; b: T1 } {
  const wt = tf.transpose(v.weight) as T2;
  if (useBatchStats) return { w: wt, b: v.bias as unknown as T1 };
  const scale = tf.div(v.bn1g, tf.sqrt(tf.add(v.rv1, BN_EPS))) as T1;
  return { w: tf.mul(wt, scale) as T2, b: tf.add(tf.mul(tf.sub(v.bias, v.rm1), scale), v.bn1b) as T1 };
}

/**
 * The fine-tuned last conv on merged edges (dedupe.ts): per merged edge z = W·[x_i, x_j, e] + b, gated terms
 * weighted by multiplicity, summed onto representatives, BatchNorm statistics weighted by the slots they stand for.
 */
export function dedupedConv(a: Assembled, v: ConvVars, A: number, useBatchStats: boolean, stats: BatchStats[] | null): T2 {
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

export function softplusBn(
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
