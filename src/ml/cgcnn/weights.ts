/**
 * CGCNN weights (Xie & Grossman, PRL 120, 145301, 2018) in the PyTorch state-dict layout of the paper's
 * experts (rees-c/MoE `cgcnn/model.py`), checked and kept as plain arrays. The state dict stays the canonical
 * form so that a fine-tuned expert can be written back under the same names, bit for bit.
 */
import type { NamedTensor, StateDict } from '../safetensors.js';
import { mulberry32 } from '../../util/random.js';


export interface CgcnnDims {
  /** 92: CGCNN's one-hot atom features. */
  origAtomFea: number;
  /** 41: Gaussians per neighbour distance. */
  nbrFea: number;
  /** 64. */
  atomFea: number;
  /** 4. */
  nConv: number;
  /** 32: the expert's own head width. */
  hFea: number;
}

export const PAPER_DIMS: CgcnnDims = { origAtomFea: 92, nbrFea: 41, atomFea: 64, nConv: 4, hFea: 32 };

/** The learned parameters and buffers of one conv layer, named as in PyTorch. */
export const CONV_PARAM_NAMES = [
  'fc_full.weight',
  'fc_full.bias',
  'bn1.weight',
  'bn1.bias',
  'bn1.running_mean',
  'bn1.running_var',
  'bn2.weight',
  'bn2.bias',
  'bn2.running_mean',
  'bn2.running_var',
] as const;

export function expectedShapes(d: CgcnnDims): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('embedding.weight', [d.atomFea, d.origAtomFea]);
  m.set('embedding.bias', [d.atomFea]);
  for (let c = 0; c < d.nConv; c++) {
    const p = `convs.${c}.`;
    m.set(p + 'fc_full.weight', [2 * d.atomFea, 2 * d.atomFea + d.nbrFea]);
    m.set(p + 'fc_full.bias', [2 * d.atomFea]);
    for (const bn of ['bn1', 'bn2']) {
      const n = bn === 'bn1' ? 2 * d.atomFea : d.atomFea;
      for (const f of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${p}${bn}.${f}`, [n]);
    }
  }
  m.set('conv_to_fc.weight', [d.hFea, d.atomFea]);
  m.set('conv_to_fc.bias', [d.hFea]);
  m.set('fc_out.weight', [1, d.hFea]);
  m.set('fc_out.bias', [1]);
  return m;
}

/** Throws unless `sd` holds exactly the tensors of a CGCNN with `dims` (extra keys such as num_batches_tracked are ignored). */
export function checkStateDict(sd: StateDict, dims: CgcnnDims = PAPER_DIMS): void {
  for (const [name, shape] of expectedShapes(dims)) {
    const t = sd.get(name);
    if (!t) throw new Error(`CGCNN weights lack "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
      throw new Error(`CGCNN weight "${name}" has shape [${t.shape}], expected [${shape}]`);
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new Error(`CGCNN weight "${name}" holds a non-finite value`);
    }
  }
}

export function cloneStateDict(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) out.set(k, { shape: [...v.shape], data: v.data.slice() });
  return out;
}

/** PyTorch Linear stores [out, in]; x @ W wants [in, out]. `cols` picks a range of input columns. */
export function linearAsInOut(w: NamedTensor, colStart = 0, colEnd = w.shape[1], rowStart = 0, rowEnd = w.shape[0]): NamedTensor {
  const inCols = w.shape[1];
  const nIn = colEnd - colStart;
  const nOut = rowEnd - rowStart;
  const data = new Float32Array(nIn * nOut);
  for (let o = 0; o < nOut; o++) {
    for (let i = 0; i < nIn; i++) data[i * nOut + o] = w.data[(rowStart + o) * inCols + colStart + i];
  }
  return { shape: [nIn, nOut], data };
}

/** PyTorch's default Linear/BatchNorm initialisation (uniform ±1/sqrt(fan_in); BN γ=1, β=0, running 0/1), for training from scratch. */
export function randomStateDict(seed: number, dims: CgcnnDims = PAPER_DIMS): StateDict {
  const rnd = mulberry32(seed);
  const sd: StateDict = new Map();
  for (const [name, shape] of expectedShapes(dims)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.includes('.bn')) {
      if (name.endsWith('.weight') || name.endsWith('running_var')) data.fill(1);
    } else {
      const layer = name.slice(0, name.lastIndexOf('.'));
      const fanIn = expectedShapes(dims).get(layer + '.weight')![1];
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = (rnd() * 2 - 1) * bound;
    }
    sd.set(name, { shape: [...shape], data });
  }
  return sd;
}
