/**
 * BatchNorm statistics of the frozen layers, re-estimated on the target task's training crystals.
 *
 * The paper's training loop calls `model.train()` on everything, experts included: the frozen layers' BatchNorms
 * normalise with batch statistics and their running statistics drift (momentum 0.1) to the target data, which is
 * what validation and test then use. Frozen weights, adapted statistics. Batch statistics would make the frozen
 * layers' output depend on the batch, so it could not be computed once; this computes, layer by layer, the
 * population statistics of the training crystals that those running averages converge to, and the frozen
 * layers then run with them (the last, fine-tuned conv keeps its own batch statistics, as in PyTorch).
 */
import { tf } from '../tf.js';
import { storeBatch, storeBatchesByAtoms, type GraphStore } from './batching.js';
import { BN_EPS, cgcnnTensors, convPreActivations, convTensors, disposeCgcnnTensors, disposeConvTensors } from './forward.js';
import { cloneStateDict } from './weights.js';
import { type StateDict } from '../safetensors.js';

/** Running mean and variance over many batches (Chan et al.), per channel, in float64. */
class Moments {
  n = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  constructor(channels: number) {
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }
  /** Adds a block of `count` rows with per-channel mean `m` and sum of squared deviations `ss`. */
  add(count: number, m: ArrayLike<number>, ss: ArrayLike<number>): void {
    if (count === 0) return;
    const n = this.n + count;
    for (let c = 0; c < this.mean.length; c++) {
      const d = m[c] - this.mean[c];
      this.mean[c] += (d * count) / n;
      this.m2[c] += ss[c] + (d * d * this.n * count) / n;
    }
    this.n = n;
  }
  /** Unbiased variance: what PyTorch stores as the running estimate, and what eval mode then normalises with. */
  variance(): Float64Array {
    return this.m2.map((v) => v / Math.max(1, this.n - 1));
  }
}

function blockMoments(z: tf.Tensor, axes: number[]): { m: Float32Array; ss: Float32Array } {
  return tf.tidy(() => {
    const mean = tf.mean(z, axes);
    const ss = tf.sum(tf.square(tf.sub(z, mean)), axes);
    return { m: mean.dataSync() as Float32Array, ss: ss.dataSync() as Float32Array };
  });
}

const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

/**
 * A copy of `weights` whose BatchNorm running statistics in convs 0 .. nFrozen-1 are those of the crystals `rows`.
 * The embedding and all learned parameters are unchanged.
 */
export function adaptFrozenBatchNorm(weights: StateDict, store: GraphStore, rows: ArrayLike<number>, nFrozen: number, maxBatchAtoms: number): StateDict {
  const sd = cloneStateDict(weights);
  if (nFrozen === 0 || rows.length === 0) return sd;
  const groups = storeBatchesByAtoms(store, rows, maxBatchAtoms);
  const batches = groups.map((g) => storeBatch(store, g));
  const t = cgcnnTensors(weights);
  const A = t.embB.shape[0];
  try {
    let xs = batches.map((b) => tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(b.atomFea, [b.nAtoms, b.atomFea.length / b.nAtoms]), t.embW), t.embB).dataSync() as Float32Array));
    for (let c = 0; c < nFrozen; c++) {
      const conv = convTensors(sd, c);
      try {
        const m1 = new Moments(2 * A);
        const tensorsOf = (i: number) => {
          const b = batches[i];
          return { x: tf.tensor2d(xs[i], [b.nAtoms, A]), nbrIdx: tf.tensor1d(b.nbrIdx, 'int32'), edgeFea: tf.tensor2d(b.edgeFea, [b.nAtoms * b.maxNeighbors, b.edgeFea.length / (b.nAtoms * b.maxNeighbors)]) };
        };
        batches.forEach((b, i) => {
          tf.tidy(() => {
            const { x, nbrIdx, edgeFea } = tensorsOf(i);
            const pre = convPreActivations(conv, x, nbrIdx, edgeFea, b.maxNeighbors);
            const { m, ss } = blockMoments(tf.concat([pre.filter, pre.core], 2), [0, 1]);
            m1.add(b.nAtoms * b.maxNeighbors, m, ss);
          });
        });
        const var1 = m1.variance();
        const g1 = sd.get(`convs.${c}.bn1.weight`)!.data;
        const b1 = sd.get(`convs.${c}.bn1.bias`)!.data;
        const scale1 = Float32Array.from(var1, (v, k) => g1[k] / Math.sqrt(v + BN_EPS));
        const shift1 = Float32Array.from(m1.mean, (mu, k) => b1[k] - mu * scale1[k]);
        const m2 = new Moments(A);
        const summed = batches.map((b, i) =>
          tf.tidy(() => {
            const { x, nbrIdx, edgeFea } = tensorsOf(i);
            const pre = convPreActivations(conv, x, nbrIdx, edgeFea, b.maxNeighbors);
            const f = tf.add(tf.mul(pre.filter, scale1.subarray(0, A)), shift1.subarray(0, A));
            const co = tf.add(tf.mul(pre.core, scale1.subarray(A)), shift1.subarray(A));
            const s = tf.sum(tf.mul(tf.sigmoid(f), tf.softplus(co)), 1);
            const { m, ss } = blockMoments(s, [0]);
            m2.add(b.nAtoms, m, ss);
            return s.dataSync() as Float32Array;
          }),
        );
        const var2 = m2.variance();
        const g2 = sd.get(`convs.${c}.bn2.weight`)!.data;
        const b2 = sd.get(`convs.${c}.bn2.bias`)!.data;
        xs = xs.map((x, i) => {
          const s = summed[i];
          const out = new Float32Array(x.length);
          for (let r = 0; r < x.length; r += A) {
            for (let k = 0; k < A; k++) out[r + k] = softplus(x[r + k] + ((s[r + k] - m2.mean[k]) / Math.sqrt(var2[k] + BN_EPS)) * g2[k] + b2[k]);
          }
          return out;
        });
        // Later layers are estimated on exactly the states eval mode will produce (unbiased running variance).
        const put = (name: string, v: ArrayLike<number>) => sd.set(name, { shape: [v.length], data: Float32Array.from(v) });
        put(`convs.${c}.bn1.running_mean`, m1.mean);
        put(`convs.${c}.bn1.running_var`, var1);
        put(`convs.${c}.bn2.running_mean`, m2.mean);
        put(`convs.${c}.bn2.running_var`, var2);
      } finally {
        disposeConvTensors(conv);
      }
    }
    return sd;
  } finally {
    disposeCgcnnTensors(t);
  }
}
