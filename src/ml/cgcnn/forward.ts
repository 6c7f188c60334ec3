/**
 * CGCNN forward pass in TensorFlow.js, exactly the architecture of the paper's experts (DESIGN.md;
 * rees-c/MoE `cgcnn/model.py`, itself CGCNN's):
 *   x0 = Linear(92→64)(atom features)
 *   conv: z_ij = BN1(W [x_i, x_j, e_ij] + b)  →  (filter, core) = chunk(z, 2)
 *         s_i  = Σ_j sigmoid(filter) · softplus(core);  x_i ← softplus(x_i + BN2(s_i))      (×4)
 *   embedding  = softplus(mean over the crystal's atoms of x)
 *   prediction = Linear(32→1)(softplus(Linear(64→32)(embedding)))   (normalised units)
 * The concat-then-matmul is computed in split-weight form, x_i·W_self + (x·W_nbr)[j] + e_ij·W_edge: the same
 * sums with 12x fewer rows in two of the three products. BatchNorm at inference uses running statistics
 * (eps 1e-5); it is folded into the preceding weights and the 128 outputs are produced as the two 64-wide
 * halves directly, so no tensor of edges is sliced.
 */
import { tf } from '../tf.js';
import type { GraphBatch } from './batching.js';
import { PAPER_DIMS, type CgcnnDims } from './weights.js';
import { type StateDict } from '../safetensors.js';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;

export const BN_EPS = 1e-5;

export interface BnTensors {
  gamma: T1;
  beta: T1;
  mean: T1;
  variance: T1;
}

/** One conv layer in PyTorch's parametrisation: fc_full.weight is [128, 169] = [out, in]. */
export interface ConvTensors {
  weight: T2;
  bias: T1;
  bn1: BnTensors;
  bn2: BnTensors;
}

export interface CgcnnTensors {
  dims: CgcnnDims;
  /** [92, 64] (transposed from PyTorch). */
  embW: T2;
  embB: T1;
  convs: ConvTensors[];
  /** [64, 32]. */
  fcW: T2;
  fcB: T1;
  /** [32, 1]. */
  outW: T2;
  outB: T1;
}

function t1(sd: StateDict, name: string): T1 {
  const t = sd.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return tf.tensor1d(t.data);
}

function t2(sd: StateDict, name: string, transpose: boolean): T2 {
  const t = sd.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  const m = tf.tensor2d(t.data, [t.shape[0], t.shape[1]]);
  if (!transpose) return m;
  const mt = tf.transpose(m);
  m.dispose();
  return mt;
}

export function bnTensors(sd: StateDict, prefix: string): BnTensors {
  return {
    gamma: t1(sd, prefix + '.weight'),
    beta: t1(sd, prefix + '.bias'),
    mean: t1(sd, prefix + '.running_mean'),
    variance: t1(sd, prefix + '.running_var'),
  };
}

export function convTensors(sd: StateDict, c: number): ConvTensors {
  const p = `convs.${c}.`;
  return { weight: t2(sd, p + 'fc_full.weight', false), bias: t1(sd, p + 'fc_full.bias'), bn1: bnTensors(sd, p + 'bn1'), bn2: bnTensors(sd, p + 'bn2') };
}

export function cgcnnTensors(sd: StateDict, dims: CgcnnDims = PAPER_DIMS): CgcnnTensors {
  return {
    dims,
    embW: t2(sd, 'embedding.weight', true),
    embB: t1(sd, 'embedding.bias'),
    convs: Array.from({ length: dims.nConv }, (_, c) => convTensors(sd, c)),
    fcW: t2(sd, 'conv_to_fc.weight', true),
    fcB: t1(sd, 'conv_to_fc.bias'),
    outW: t2(sd, 'fc_out.weight', true),
    outB: t1(sd, 'fc_out.bias'),
  };
}

export function disposeConvTensors(c: ConvTensors): void {
  tf.dispose([c.weight, c.bias, c.bn1.gamma, c.bn1.beta, c.bn1.mean, c.bn1.variance, c.bn2.gamma, c.bn2.beta, c.bn2.mean, c.bn2.variance]);
}

export function disposeCgcnnTensors(t: CgcnnTensors): void {
  tf.dispose([t.embW, t.embB, t.fcW, t.fcB, t.outW, t.outB]);
  t.convs.forEach(disposeConvTensors);
}

/** Scale and shift of a BatchNorm with fixed statistics: y = x·scale + shift. */
export function bnAffine(bn: BnTensors, eps = BN_EPS): { scale: T1; shift: T1 } {
  const scale = tf.div(bn.gamma, tf.sqrt(tf.add(bn.variance, eps))) as T1;
  const shift = tf.sub(bn.beta, tf.mul(bn.mean, scale)) as T1;
  return { scale, shift };
}

/**
 * The conv layer's fc_full split by input block (self atom, neighbour atom, edge) and by output half
 * (filter = outputs 0-63, core = 64-127, CGCNN's `chunk(2, dim=2)`), each as an [in, out] matrix.
 * With `bn1` given (inference), BatchNorm 1 is folded in: W·scale, (b - μ)·scale + β.
 */
export interface SplitConvWeights {
  selfF: T2;
  selfC: T2;
  nbrF: T2;
  nbrC: T2;
  edgeF: T2;
  edgeC: T2;
  biasF: T1;
  biasC: T1;
}

export function splitConvWeights(c: ConvTensors, atomFea: number, foldBn1: boolean, eps = BN_EPS): SplitConvWeights {
  return tf.tidy(() => {
    let w = tf.transpose(c.weight) as T2; // [169, 128]
    let b: T1 = c.bias;
    if (foldBn1) {
      const { scale, shift } = bnAffine(c.bn1, eps);
      w = tf.mul(w, scale) as T2;
      b = tf.add(tf.mul(b, scale), shift) as T1;
    }
    const A = atomFea;
    const nbrFea = w.shape[0] - 2 * A;
    const blk = (row: number, rows: number, half: number): T2 => tf.slice(w, [row, half * A], [rows, A]);
    return {
      selfF: blk(0, A, 0),
      selfC: blk(0, A, 1),
      nbrF: blk(A, A, 0),
      nbrC: blk(A, A, 1),
      edgeF: blk(2 * A, nbrFea, 0),
      edgeC: blk(2 * A, nbrFea, 1),
      biasF: tf.slice(b, [0], [A]),
      biasC: tf.slice(b, [A], [A]),
    };
  });
}

/**
 * One half (filter or core) of the gated pre-activation, [N, M, A]:
 * reshape(gather(x·W_nbr, nbr) + e·W_edge) + (x·W_self + b) broadcast over the M neighbours.
 */
function halfPre(x: T2, nbrIdx: T1, edgeFea: T2, M: number, wSelf: T2, wNbr: T2, wEdge: T2, bias: T1): tf.Tensor3D {
  const N = x.shape[0];
  const A = wSelf.shape[1];
  const perEdge = tf.add(tf.gather(tf.matMul(x, wNbr), nbrIdx), tf.matMul(edgeFea, wEdge));
  const perAtom = tf.add(tf.matMul(x, wSelf), bias);
  return tf.add(tf.reshape(perEdge, [N, M, A]), tf.reshape(perAtom, [N, 1, A])) as tf.Tensor3D;
}

/** The neighbour sum, BatchNorm 2 and residual softplus that close a conv layer. */
function closeConv(x: T2, filterPre: tf.Tensor3D, corePre: tf.Tensor3D, bn2: { scale: T1; shift: T1 }): T2 {
  const summed = tf.sum(tf.mul(tf.sigmoid(filterPre), tf.softplus(corePre)), 1) as T2;
  return tf.softplus(tf.add(x, tf.add(tf.mul(summed, bn2.scale), bn2.shift))) as T2;
}

/** A conv layer's gated pre-activations before BatchNorm 1, as (filter, core) halves of shape [N, M, A]. */
export function convPreActivations(c: ConvTensors, x: T2, nbrIdx: T1, edgeFea: T2, M: number): { filter: tf.Tensor3D; core: tf.Tensor3D } {
  return tf.tidy(() => {
    const s = splitConvWeights(c, x.shape[1], false);
    return {
      filter: halfPre(x, nbrIdx, edgeFea, M, s.selfF, s.nbrF, s.edgeF, s.biasF),
      core: halfPre(x, nbrIdx, edgeFea, M, s.selfC, s.nbrC, s.edgeC, s.biasC),
    };
  });
}

/** Inference conv layer (BatchNorm from running statistics). */
export function convLayer(c: ConvTensors, x: T2, nbrIdx: T1, edgeFea: T2, M: number, eps = BN_EPS): T2 {
  return tf.tidy(() => {
    const A = x.shape[1];
    const s = splitConvWeights(c, A, true, eps);
    const f = halfPre(x, nbrIdx, edgeFea, M, s.selfF, s.nbrF, s.edgeF, s.biasF);
    const co = halfPre(x, nbrIdx, edgeFea, M, s.selfC, s.nbrC, s.edgeC, s.biasC);
    return closeConv(x, f, co, bnAffine(c.bn2, eps));
  });
}

/** Mean over each crystal's atoms: [N, A] → [B, A]. */
export function meanPool(x: T2, segmentIds: T1, counts: T2, nCrystals: number): T2 {
  return tf.div(tf.unsortedSegmentSum(x, segmentIds, nCrystals), counts) as T2;
}

export interface BatchTensors {
  atomFea: T2;
  nbrIdx: T1;
  edgeFea: T2;
  segmentIds: T1;
  /** [B, 1] float. */
  counts: T2;
  nCrystals: number;
  maxNeighbors: number;
}

export function batchTensors(b: GraphBatch): BatchTensors {
  return {
    atomFea: tf.tensor2d(b.atomFea, [b.nAtoms, b.atomFea.length / Math.max(1, b.nAtoms)]),
    nbrIdx: tf.tensor1d(b.nbrIdx, 'int32'),
    edgeFea: tf.tensor2d(b.edgeFea, [b.nAtoms * b.maxNeighbors, b.edgeFea.length / Math.max(1, b.nAtoms * b.maxNeighbors)]),
    segmentIds: tf.tensor1d(b.segmentIds, 'int32'),
    counts: tf.tensor2d(Float32Array.from(b.atomCounts), [b.nCrystals, 1]),
    nCrystals: b.nCrystals,
    maxNeighbors: b.maxNeighbors,
  };
}

export function disposeBatchTensors(b: BatchTensors): void {
  tf.dispose([b.atomFea, b.nbrIdx, b.edgeFea, b.segmentIds, b.counts]);
}

/** Atom features after the embedding and the first `nConvs` conv layers (all of them by default). */
export function atomStates(t: CgcnnTensors, b: BatchTensors, nConvs = t.convs.length): T2 {
  return tf.tidy(() => {
    let x = tf.add(tf.matMul(b.atomFea, t.embW), t.embB) as T2;
    for (let c = 0; c < nConvs; c++) x = convLayer(t.convs[c], x, b.nbrIdx, b.edgeFea, b.maxNeighbors);
    return x;
  });
}

/** The 64-d expert embedding: softplus(mean over atoms of x after the last conv). */
export function embeddingFromAtoms(x: T2, b: Pick<BatchTensors, 'segmentIds' | 'counts' | 'nCrystals'>): T2 {
  return tf.tidy(() => tf.softplus(meanPool(x, b.segmentIds, b.counts, b.nCrystals)) as T2);
}

/** The expert's own head on its embedding, in normalised units: [B, 1]. */
export function expertHead(t: CgcnnTensors, embedding: T2): T2 {
  return tf.tidy(() => tf.add(tf.matMul(tf.softplus(tf.add(tf.matMul(embedding, t.fcW), t.fcB)), t.outW), t.outB) as T2);
}

