/**
 * Everything a training run changes, captured after an epoch so that a later call (another process, after a crash)
 * continues it bit for bit: current and best-so-far weights of gate, head and every trainable expert (BatchNorm
 * running statistics included), Adam's moments and step counts, the shuffle generator and the training rows in their
 * shuffled order, early-stopping counters and the epochs' history.
 *
 * Bytes: a sealed file (envelope.ts, tag "MATMOETS") whose payload is safetensors — the arrays as F32 tensors, the rest
 * as JSON in its metadata. Expert tensors still equal to their reference (the shipped weights for current values,
 * the current values for the best-so-far ones) are named, not stored: experts the gate never selected cost nothing.
 * A state carries the fingerprint of its run (config, split, targets, inputs, experts) and is resumed only by it.
 */
import { createHash } from 'node:crypto';
import type { AdamState } from '../adam.js';
import { ATOM_FEATURES_VERSION } from '../cgcnn/atom-features.js';
import { GRAPH_VERSION } from '../cgcnn/batching.js';
import type { ExpertWeights } from '../experts/expert-kind.js';
import { parseSafetensors, serializeSafetensors, type NamedTensor } from '../safetensors.js';
import type { MixtureConfig } from './config.js';
import { CheckpointError, fromJson, seal, toJson, unseal } from './envelope.js';
import type { EpochProgress, MixtureData } from './train-types.js';

const TAG = 'MATMOETS';
const VERSION = 1;
const WHAT = 'trainer state';

/** Weights of gate, head ([w, b] per layer) and experts (TrainableExpert.snapshot) at one moment. */
export interface WeightsSnapshot {
  gate: number[];
  head: [Float32Array, Float32Array][];
  experts: Map<string, Float32Array>[];
}

export interface TrainerState extends WeightsSnapshot {
  /** trainingFingerprint of the run. */
  fingerprint: string;
  /** The last completed epoch, 0-based as EpochProgress.epoch: a resumed run continues with epoch + 1. */
  epoch: number;
  adam: AdamState;
  /** Mulberry32 state of the batch shuffle, and the training rows in the order it last left them. */
  rng: number;
  order: Int32Array;
  best: WeightsSnapshot & { mae: number; epoch: number };
  sinceBest: number;
  history: EpochProgress[];
  /** Seconds spent in the training loop up to this state, over all calls. */
  trainSeconds: number;
}

/** The value a stored expert tensor defaults to: the shipped weights of expert `j` (by variable name). */
export type ExpertReference = (expert: number, name: string) => Float32Array | undefined;

interface Meta {
  fingerprint: string;
  epoch: number;
  gate: number[];
  heads: number;
  experts: ExpertIndex;
  adam: ({ step: number; idle: number; lazy: number } | null)[][];
  rng: number;
  rows: number;
  best: { mae: number; epoch: number; gate: number[]; experts: ExpertIndex };
  sinceBest: number;
  history: EpochProgress[];
  trainSeconds: number;
}

/** Per expert: every snapshot name, and those equal to the reference (not stored). */
type ExpertIndex = { names: string[]; referenced: string[] }[];

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const flat = (data: Float32Array): NamedTensor => ({ shape: [data.length], data });

function putExperts(tensors: Map<string, NamedTensor>, prefix: string, experts: readonly Map<string, Float32Array>[], reference: ExpertReference): ExpertIndex {
  return experts.map((m, j) => {
    const referenced: string[] = [];
    for (const [name, data] of m) {
      const ref = reference(j, name);
      if (ref && sameBits(ref, data)) referenced.push(name);
      else tensors.set(`${prefix}.${j}.${name}`, flat(data));
    }
    return { names: [...m.keys()], referenced };
  });
}

function takeExperts(take: (name: string) => Float32Array, prefix: string, index: ExpertIndex, reference: ExpertReference): Map<string, Float32Array>[] {
  return index.map((e, j) => {
    const referenced = new Set(e.referenced);
    return new Map(e.names.map((name) => {
      if (!referenced.has(name)) return [name, take(`${prefix}.${j}.${name}`)];
      const ref = reference(j, name);
      if (!ref) throw new CheckpointError('checkpoint_incompatible', `${WHAT} refers to tensor ${name} of expert ${j}, which its experts lack`);
      return [name, ref.slice()];
    }));
  });
}

const putHead = (tensors: Map<string, NamedTensor>, prefix: string, head: WeightsSnapshot['head']) =>
  head.forEach(([w, b], i) => {
    tensors.set(`${prefix}.${i}.w`, flat(w));
    tensors.set(`${prefix}.${i}.b`, flat(b));
  });

const takeHead = (take: (name: string) => Float32Array, prefix: string, n: number): WeightsSnapshot['head'] =>
  Array.from({ length: n }, (_, i) => [take(`${prefix}.${i}.w`), take(`${prefix}.${i}.b`)]);

/** `reference(j, name)`: the shipped value of expert j's tensor, which need not be stored while it is unchanged. */
export function serializeTrainerState(s: TrainerState, reference: ExpertReference = () => undefined): Uint8Array {
  if (s.order.length >= 2 ** 24) throw new RangeError(`${s.order.length} training rows: row indices above 2^24 do not survive F32 storage`);
  const tensors = new Map<string, NamedTensor>();
  putHead(tensors, 'head', s.head);
  putHead(tensors, 'best.head', s.best.head);
  const experts = putExperts(tensors, 'experts', s.experts, reference);
  const bestExperts = putExperts(tensors, 'best.experts', s.best.experts, (j, name) => s.experts[j]?.get(name));
  const adam = s.adam.map((g, gi) => g.map((slot, pi) => {
    if (!slot) return null;
    tensors.set(`adam.${gi}.${pi}.m`, flat(slot.m));
    tensors.set(`adam.${gi}.${pi}.v`, flat(slot.v));
    return { step: slot.step, idle: slot.idle, lazy: slot.lazy };
  }));
  tensors.set('order', flat(Float32Array.from(s.order)));
  const meta: Meta = {
    fingerprint: s.fingerprint,
    epoch: s.epoch,
    gate: s.gate,
    heads: s.head.length,
    experts,
    adam,
    rng: s.rng,
    rows: s.order.length,
    best: { mae: s.best.mae, epoch: s.best.epoch, gate: s.best.gate, experts: bestExperts },
    sinceBest: s.sinceBest,
    history: s.history,
    trainSeconds: s.trainSeconds,
  };
  return seal(TAG, VERSION, serializeSafetensors(tensors, { matmoe: toJson(meta) }));
}

/** Reads a state; `reference` must answer as it did when the state was written (the same experts). */
export function loadTrainerState(bytes: Uint8Array, reference: ExpertReference = () => undefined): TrainerState {
  const payload = unseal(bytes, TAG, VERSION, WHAT);
  let tensors: Map<string, NamedTensor>;
  let meta: Meta;
  try {
    const file = parseSafetensors(payload);
    tensors = file.tensors;
    meta = fromJson(file.metadata.matmoe ?? 'null') as Meta;
    if (typeof meta?.fingerprint !== 'string' || !Array.isArray(meta.experts) || !Array.isArray(meta.adam) || !Array.isArray(meta.history)) throw new Error('metadata incomplete');
  } catch (err) {
    throw new CheckpointError('checkpoint_malformed', `${WHAT} unreadable: ${(err as Error).message}`);
  }
  const take = (name: string): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError('checkpoint_malformed', `${WHAT} lacks tensor ${name}`);
    return t.data;
  };
  const experts = takeExperts(take, 'experts', meta.experts, reference);
  const order = Int32Array.from(take('order'));
  if (order.length !== meta.rows) throw new CheckpointError('checkpoint_malformed', `${WHAT} holds ${order.length} training rows, its metadata ${meta.rows}`);
  return {
    fingerprint: meta.fingerprint,
    epoch: meta.epoch,
    gate: meta.gate,
    head: takeHead(take, 'head', meta.heads),
    experts,
    adam: meta.adam.map((g, gi) => g.map((slot, pi) => (slot ? { ...slot, m: take(`adam.${gi}.${pi}.m`), v: take(`adam.${gi}.${pi}.v`) } : null))),
    rng: meta.rng,
    order,
    best: {
      mae: meta.best.mae,
      epoch: meta.best.epoch,
      gate: meta.best.gate,
      head: takeHead(take, 'best.head', meta.heads),
      experts: takeExperts(take, 'best.experts', meta.best.experts, (j, name) => experts[j]?.get(name)),
    },
    sinceBest: meta.sinceBest,
    history: meta.history,
    trainSeconds: meta.trainSeconds,
  };
}

/** JSON with object keys sorted: the same config hashes the same whatever order its fields were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * sha256 (hex) of what decides a run's trajectory: the config (resolved by the trainer; as given by a job), the training and validation rows in order,
 * their inputs and targets, the experts (shipped file hash, or the weights of an expert without one) and the
 * featurisation versions. Test rows are left out: they never steer training.
 */
export function trainingFingerprint(config: MixtureConfig | Partial<MixtureConfig>, data: MixtureData, bases: readonly ExpertWeights[]): string {
  const h = createHash('sha256');
  const bytes = (a: ArrayBufferView) => h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  h.update(`${TAG}/${VERSION}|${GRAPH_VERSION}|${ATOM_FEATURES_VERSION}|${canonical(config)}`);
  const rows = [...data.split.train, ...data.split.val];
  bytes(Int32Array.of(data.split.train.length, data.split.val.length));
  bytes(Int32Array.from(rows));
  bytes(Float64Array.from(rows, (r) => data.targets[r]));
  for (const r of rows) {
    const { formula, graph } = data.inputs[r];
    h.update(`|${formula ?? ''}|`);
    if (graph) {
      bytes(Int32Array.of(graph.maxNeighbors));
      bytes(graph.atomicNumbers);
      bytes(graph.nbrIdx);
      bytes(graph.nbrDist);
    }
  }
  for (const b of bases) {
    h.update(`|${b.key}|${b.kind}|${b.baseSha256}`);
    if (b.baseSha256 !== '') continue;
    for (const name of [...b.weights.keys()].sort()) {
      h.update(`|${name}`);
      bytes(b.weights.get(name)!.data);
    }
  }
  return h.digest('hex');
}
