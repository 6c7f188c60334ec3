/**
 * An expert as a chain of inference steps, each with the tensors that identify it (for shared-prefix.ts) and a
 * thunk that prepares its weights in the form the compiled pass runs (only called for the first expert that
 * reaches a node):
 *   composition: standardize(input.mean, input.std) → dense+softplus per encoder layer (the last gives the embedding);
 *   CGCNN: atom embedding (92→64) → conv × 4 → mean pool + softplus (the embedding).
 * The CGCNN conv is prepared as in cgcnn/forward.ts: BatchNorm 1 folded into fc_full, split by input block, with
 * the self and neighbour blocks side by side ([A, 4A]) so one product per atom gives both.
 */
import { expertKind } from '../experts/registry.js';
import type { ExpertWeights } from '../experts/expert-kind.js';
import type { NamedTensor, StateDict } from '../safetensors.js';
import { BN_EPS } from '../cgcnn/forward.js';
import { CONV_PARAM_NAMES, linearAsInOut, PAPER_DIMS } from '../cgcnn/weights.js';
import { COMPOSITION_KIND, type CompositionExpertCard } from '../composition/card.js';
import { encoderB, encoderW, INPUT_MEAN, INPUT_STD } from '../composition/model.js';
import type { DenseWeights } from './kernels.js';
import type { TensorRef } from './shared-prefix.js';

export type Payload =
  | { op: 'standardize'; mean: Float32Array; std: Float32Array }
  | { op: 'dense-softplus'; dense: DenseWeights }
  | { op: 'atom-embedding'; dense: DenseWeights }
  | {
      op: 'conv';
      /** [A, 4A]: x·[W_self | W_nbr] + [b | 0], BatchNorm 1 folded. */
      pair: DenseWeights;
      /** [nbrFea, 2A]: e·W_edge, BatchNorm 1 folded, no bias. */
      edge: DenseWeights;
      /** [2A]: BatchNorm 2 scale | shift. */
      bn2: Float32Array;
      atomFea: number;
    }
  | { op: 'pool' };

export interface Step {
  op: Payload['op'];
  params: TensorRef[];
  payload: () => Payload;
}

export interface LoweredExpert {
  /** What the first step reads: composition descriptors, or a crystal graph's atoms. */
  input: 'composition' | 'graph';
  steps: Step[];
}

function tensor(sd: StateDict, name: string): NamedTensor {
  const t = sd.get(name);
  if (!t) throw new Error(`expert weights lack ${name}`);
  return t;
}

function compositionSteps(e: ExpertWeights): LoweredExpert {
  const card = e.card as CompositionExpertCard;
  const sd = e.weights;
  const mean = tensor(sd, INPUT_MEAN);
  const std = tensor(sd, INPUT_STD);
  const steps: Step[] = [{ op: 'standardize', params: [mean, std], payload: () => ({ op: 'standardize', mean: mean.data, std: std.data }) }];
  card.architecture.encoder.forEach((_, i) => {
    const w = tensor(sd, encoderW(i));
    const b = tensor(sd, encoderB(i));
    steps.push({ op: 'dense-softplus', params: [w, b], payload: () => ({ op: 'dense-softplus', dense: { k: w.shape[0], n: w.shape[1], w: w.data, b: b.data } }) });
  });
  return { input: 'composition', steps };
}

/** Scale and shift of a BatchNorm with running statistics, in float64. */
function bnAffine(sd: StateDict, prefix: string): { scale: Float64Array; shift: Float64Array } {
  const g = tensor(sd, `${prefix}.weight`).data;
  const beta = tensor(sd, `${prefix}.bias`).data;
  const mu = tensor(sd, `${prefix}.running_mean`).data;
  const v = tensor(sd, `${prefix}.running_var`).data;
  const scale = Float64Array.from(g, (x, i) => x / Math.sqrt(v[i] + BN_EPS));
  const shift = Float64Array.from(beta, (x, i) => x - mu[i] * scale[i]);
  return { scale, shift };
}

/** fc_full [2A, 2A + nbrFea] ([out, in]) with BatchNorm 1 folded, split into the pair and edge products. */
export function foldConv(sd: StateDict, c: number, A: number): Extract<Payload, { op: 'conv' }> {
  const p = `convs.${c}.`;
  const W = tensor(sd, p + 'fc_full.weight');
  const bias = tensor(sd, p + 'fc_full.bias').data;
  const inW = W.shape[1];
  const F = inW - 2 * A;
  const bn1 = bnAffine(sd, p + 'bn1');
  const bn2 = bnAffine(sd, p + 'bn2');
  const pair = { k: A, n: 4 * A, w: new Float32Array(A * 4 * A), b: new Float32Array(4 * A) };
  const edge = { k: F, n: 2 * A, w: new Float32Array(F * 2 * A), b: null };
  for (let o = 0; o < 2 * A; o++) {
    const s = bn1.scale[o];
    for (let i = 0; i < A; i++) {
      pair.w[i * 4 * A + o] = W.data[o * inW + i] * s;
      pair.w[i * 4 * A + 2 * A + o] = W.data[o * inW + A + i] * s;
    }
    for (let f = 0; f < F; f++) edge.w[f * 2 * A + o] = W.data[o * inW + 2 * A + f] * s;
    pair.b[o] = bias[o] * s + bn1.shift[o];
  }
  const bn = new Float32Array(2 * A);
  bn.set(bn2.scale, 0);
  bn.set(bn2.shift, A);
  return { op: 'conv', pair, edge, bn2: bn, atomFea: A };
}

function cgcnnSteps(e: ExpertWeights): LoweredExpert {
  const sd = e.weights;
  const A = PAPER_DIMS.atomFea;
  const ew = tensor(sd, 'embedding.weight');
  const eb = tensor(sd, 'embedding.bias');
  const steps: Step[] = [
    {
      op: 'atom-embedding',
      params: [ew, eb],
      payload: () => {
        const w = linearAsInOut(ew);
        return { op: 'atom-embedding', dense: { k: w.shape[0], n: w.shape[1], w: w.data, b: eb.data } };
      },
    },
  ];
  for (let c = 0; c < PAPER_DIMS.nConv; c++) {
    steps.push({ op: 'conv', params: CONV_PARAM_NAMES.map((n) => tensor(sd, `convs.${c}.${n}`)), payload: () => foldConv(sd, c, A) });
  }
  steps.push({ op: 'pool', params: [], payload: () => ({ op: 'pool' }) });
  return { input: 'graph', steps };
}

/** The steps of a stored expert (checked first, as a checkpoint load does). */
export function lowerExpert(e: ExpertWeights): LoweredExpert {
  expertKind(e.kind).validate(e);
  if (e.kind === COMPOSITION_KIND) return compositionSteps(e);
  if (e.kind === 'cgcnn') return cgcnnSteps(e);
  throw new Error(`the compiled inference engine has no lowering for expert kind "${e.kind}"`);
}
