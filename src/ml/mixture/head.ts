/** The mixture's head: Linear(64→32) → softplus → Linear(32→32) → softplus → Linear(32→1), as plain arrays and on tensors. */
import { tf } from '../tf.js';
import { mulberry32 } from '../../util/random.js';

/** One dense layer, [in, out] row-major. */
export interface DenseLayer {
  nIn: number;
  nOut: number;
  w: Float32Array;
  b: Float32Array;
}

/** PyTorch's default Linear initialisation, U(±1/√fan_in) for weights and biases, from a seeded stream. */
export function initHead(inDim: number, hidden: readonly number[], seed: number): DenseLayer[] {
  const rnd = mulberry32(seed ^ 0x5eed);
  const dims = [inDim, ...hidden, 1];
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    const nIn = dims[l];
    const nOut = dims[l + 1];
    const bound = 1 / Math.sqrt(nIn);
    const w = new Float32Array(nIn * nOut);
    for (let i = 0; i < w.length; i++) w[i] = (rnd() * 2 - 1) * bound;
    const b = new Float32Array(nOut);
    for (let i = 0; i < nOut; i++) b[i] = (rnd() * 2 - 1) * bound;
    layers.push({ nIn, nOut, w, b });
  }
  return layers;
}

/** The head on tensors: softplus after every layer but the last. [B, in] → [B]. */
export function headForward(layers: readonly { w: tf.Tensor2D; b: tf.Tensor1D }[], x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    layers.forEach((l, i) => {
      h = tf.add(tf.matMul(h, l.w), l.b) as tf.Tensor2D;
      if (i + 1 < layers.length) h = tf.softplus(h) as tf.Tensor2D;
    });
    return tf.reshape(h, [-1]) as tf.Tensor1D;
  });
}
