/**
 * What the mixture needs from an expert, whatever its kind: map a material to a 64-d embedding, with an optional
 * trainable part. CGCNN (structure → embedding) is one kind; composition experts (formula → embedding) are another.
 * The frozen part of an expert is computed once per dataset (`prepare`); per step only the trainable part runs.
 */
import type { tf } from '../tf.js';
import type { CrystalGraph } from '../cgcnn/batching.js';
import { type StateDict } from '../safetensors.js';

/** One material as the experts see it; each kind reads what it needs and rejects inputs that lack it. */
export interface ExpertInput {
  /** Crystal graph (structure experts). */
  graph?: CrystalGraph;
  /** Chemical formula (composition experts). */
  formula?: string;
}

/**
 * An expert as shipped, stored in Postgres or carried by a model checkpoint: identity, card and the complete weights
 * (fine-tuned layers included). `C` is the card's shape where the kind is known (`CgcnnCard`, `CompositionExpertCard`).
 */
export interface ExpertWeights<C extends object = object> {
  key: string;
  kind: string;
  /** The expert's card as in its experts.json. */
  card: C;
  /** sha256 of the shipped weights this expert started from ('' for an expert trained from scratch). */
  baseSha256: string;
  weights: StateDict;
}

export interface TrainableOptions {
  /** How many of the expert's last layers train (paper: 1, the last conv); 0 = frozen. */
  finetuneLayers: number;
  /** Every layer trains from the given (random) weights. */
  scratch: boolean;
  /** BatchNorm of training layers during training steps: batch statistics (PyTorch train mode) or running ones. */
  batchNorm: 'batch' | 'running';
  /** BatchNorm statistics of frozen layers: the expert's own ('source') or re-estimated on `statRows` ('target'). */
  frozenBatchNorm: 'source' | 'target';
  /** Atom budget of one forward pass when precomputing. */
  maxBatchAtoms: number;
  /**
   * Distance grid (Å) for merging symmetry-equivalent atoms and neighbour slots in a single fine-tuned layer
   * (see dedupe.ts); null computes every atom and slot.
   */
  dedupeTolerance: number | null;
}

/** A rows selection inside a prepared dataset. `cacheKey` marks a selection that recurs (validation set) so its tensors are kept. */
export interface RowsRef {
  rows: Int32Array;
  cacheKey?: string;
}

/** An expert inside a training run. */
export interface TrainableExpert {
  readonly key: string;
  readonly kind: string;
  readonly dim: number;
  /** Variables the optimiser updates (empty when frozen). */
  readonly variables: tf.Variable[];
  /**
   * Computes and keeps the frozen part for every input. Must be called before `embed`. `statRows` are the rows
   * whose statistics frozen normalisation layers may adapt to (the training split; never validation or test).
   */
  prepare(inputs: readonly ExpertInput[], opts?: { statRows?: ArrayLike<number> }): void;
  /**
   * [rows, dim]; with `training` it may use batch statistics and records what `afterStep` needs. Call it inside a
   * tf.tidy / tf.variableGrads scope, which frees the batch tensors once the backward pass is done.
   */
  embed(ref: RowsRef, training: boolean): tf.Tensor2D;
  /** Applies side effects of the last training forward (BatchNorm running statistics). */
  afterStep(): void;
  /** Values of all variables and buffers that training changes. */
  snapshot(): Map<string, Float32Array>;
  restore(s: Map<string, Float32Array>): void;
  /** The complete current weights. */
  exportWeights(): ExpertWeights;
  dispose(): void;
}

export interface ExpertKind {
  readonly kind: string;
  /** The expert in a weights file, with its card; both are checked. `sha256` names the file it came from. */
  fromBytes(bytes: Uint8Array, card: unknown, sha256: string): ExpertWeights;
  createTrainable(base: ExpertWeights, opts: TrainableOptions): TrainableExpert;
  /** Inference: [inputs.length * dim] embeddings of a stored expert. */
  embed(expert: ExpertWeights, inputs: readonly ExpertInput[], maxBatchAtoms?: number): Float32Array;
  /** Checks that a stored expert is complete and well-formed (used when loading checkpoints). */
  validate(expert: ExpertWeights): void;
  /** Throws a ChemError naming what an input lacks for this kind (a structure, an element it has no data for). */
  check(input: ExpertInput): void;
}
