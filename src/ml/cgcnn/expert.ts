/**
 * A CGCNN expert (the paper's 18, experts/cgcnn/: safetensors in PyTorch state-dict names + experts.json cards): read
 * from its file and card, and what it does on its own: embed crystals (64-d) and predict its source property.
 */
import type { ExpertWeights } from '../experts/expert-kind.js';
import { tf } from '../tf.js';
import { parseSafetensors, type StateDict } from '../safetensors.js';
import { checkStateDict, PAPER_DIMS, type CgcnnDims } from './weights.js';
import { batchesByAtoms, packGraphs, DEFAULT_MAX_BATCH_ATOMS, type CrystalGraph } from './batching.js';
import { atomStates, batchTensors, cgcnnTensors, disposeBatchTensors, disposeCgcnnTensors, embeddingFromAtoms, expertHead, type CgcnnTensors } from './forward.js';

export interface CgcnnCard {
  key: string;
  property: string;
  unit: string;
  likely_source_dataset?: string;
  architecture: {
    type: 'cgcnn';
    orig_atom_fea_len: number;
    nbr_fea_len: number;
    atom_fea_len: number;
    n_conv: number;
    h_fea_len: number;
    n_h: number;
    radius: number;
    max_num_nbr: number;
    gaussian_dmin: number;
    gaussian_step: number;
    batchnorm_eps: number;
  };
  target_normalizer: { mean: number; std: number };
  best_val_mae?: number;
  epoch?: number;
  training?: Record<string, unknown>;
  origin?: string;
  file: string;
}

export type CgcnnExpert = ExpertWeights<CgcnnCard>;

export const EMBEDDING_DIM = 64;

export function cardDims(card: CgcnnCard): CgcnnDims {
  const a = card.architecture;
  return { origAtomFea: a.orig_atom_fea_len, nbrFea: a.nbr_fea_len, atomFea: a.atom_fea_len, nConv: a.n_conv, hFea: a.h_fea_len };
}

function checkCard(card: unknown): asserts card is CgcnnCard {
  const c = card as Partial<CgcnnCard> | null;
  const a = c?.architecture;
  const p = PAPER_DIMS;
  if (
    a?.type !== 'cgcnn' || a.n_h !== 1 || a.radius !== 8 || a.max_num_nbr !== 12 || a.gaussian_dmin !== 0 || a.gaussian_step !== 0.2 ||
    a.orig_atom_fea_len !== p.origAtomFea || a.nbr_fea_len !== p.nbrFea || a.atom_fea_len !== p.atomFea
  ) {
    throw new Error(`expert ${c?.key ?? '?'}: architecture ${JSON.stringify(a)} is not the CGCNN this service implements`);
  }
  if (!(c!.target_normalizer!.std > 0) || !Number.isFinite(c!.target_normalizer!.mean)) {
    throw new Error(`expert ${c!.key}: target_normalizer must have a finite mean and a positive std`);
  }
}

/** A CGCNN expert from its safetensors file and card; the card and every tensor shape are checked. */
export function cgcnnExpertFromBytes(bytes: Uint8Array, card: unknown, sha256: string): CgcnnExpert {
  checkCard(card);
  const { tensors } = parseSafetensors(bytes);
  checkStateDict(tensors, cardDims(card));
  return { key: card.key, kind: 'cgcnn', card, baseSha256: sha256, weights: tensors };
}

function forEachBatch(
  weights: StateDict,
  dims: CgcnnDims,
  graphs: readonly CrystalGraph[],
  maxAtoms: number,
  fn: (t: CgcnnTensors, rows: number[], emb: tf.Tensor2D) => void,
): void {
  const t = cgcnnTensors(weights, dims);
  try {
    const rows = Array.from({ length: graphs.length }, (_, i) => i);
    for (const group of batchesByAtoms(graphs, rows, maxAtoms)) {
      const b = batchTensors(packGraphs(graphs, group));
      try {
        tf.tidy(() => fn(t, group, embeddingFromAtoms(atomStates(t, b), b)));
      } finally {
        disposeBatchTensors(b);
      }
    }
  } finally {
    disposeCgcnnTensors(t);
  }
}

/** Embeddings of CGCNN weights given as a state dict (an expert as shipped or as fine-tuned in a model). */
export function cgcnnEmbeddings(weights: StateDict, graphs: readonly CrystalGraph[], maxAtoms = DEFAULT_MAX_BATCH_ATOMS, dims: CgcnnDims = PAPER_DIMS): Float32Array {
  const out = new Float32Array(graphs.length * EMBEDDING_DIM);
  forEachBatch(weights, dims, graphs, maxAtoms, (_t, rows, emb) => {
    const v = emb.dataSync();
    rows.forEach((r, i) => out.set(v.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM), r * EMBEDDING_DIM));
  });
  return out;
}

/** 64-d embeddings, row-major [graphs.length, 64]. */
export function expertEmbeddings(expert: CgcnnExpert, graphs: readonly CrystalGraph[], maxAtoms = DEFAULT_MAX_BATCH_ATOMS): Float32Array {
  return cgcnnEmbeddings(expert.weights, graphs, maxAtoms, cardDims(expert.card));
}

/** The expert's own prediction of its source property, in the card's unit. */
export function predictExpert(expert: CgcnnExpert, graphs: readonly CrystalGraph[], maxAtoms = DEFAULT_MAX_BATCH_ATOMS): Float32Array {
  const out = new Float32Array(graphs.length);
  const { mean, std } = expert.card.target_normalizer;
  forEachBatch(expert.weights, cardDims(expert.card), graphs, maxAtoms, (t, rows, emb) => {
    const v = expertHead(t, emb).dataSync();
    rows.forEach((r, i) => {
      out[r] = v[i] * std + mean;
    });
  });
  return out;
}
