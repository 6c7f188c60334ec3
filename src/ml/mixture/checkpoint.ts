/**
 * A trained mixture as one self-contained byte string:
 *   "MATMOECK" | u32 LE format version | sha256 of the payload (32 bytes) | payload
 * where the payload is a safetensors file: the head and the selected experts' complete weights (fine-tuned
 * layers included, PyTorch names under `experts.<i>.`) as F32 tensors, and everything else (config, gate,
 * normaliser, expert cards and base-weight hashes, featurisation versions, metrics) as JSON in its metadata.
 * Loading needs these bytes and, for experts whose unchanged tensors were left out (`BaseWeights`), the installed
 * shipped experts they came from; a single flipped bit is refused.
 */
import { createHash } from 'node:crypto';
import { parseSafetensors, serializeSafetensors, type NamedTensor, type StateDict } from '../safetensors.js';
import { ATOM_FEATURES_VERSION } from '../cgcnn/atom-features.js';
import { GRAPH_VERSION } from '../cgcnn/batching.js';
import { MODEL_FORMAT, type MixtureModel } from './model.js';
import { type DenseLayer } from './head.js';
import { expertKind } from '../experts/registry.js';
import { PAPER_DEFAULTS } from './config.js';
import { CheckpointError, seal, unseal } from './envelope.js';

const MAGIC = 'MATMOECK';
const VERSION = 1;

export { CheckpointError };

interface Manifest {
  format: string;
  config: MixtureModel['config'];
  expertKeys: string[];
  gateLogits: number[];
  selected: number[];
  gateWeights: number[];
  experts: { key: string; kind: string; card: object; baseSha256: string; tensors: string[]; fromBase?: string[] }[];
  head: { nIn: number; nOut: number }[];
  normalizer: MixtureModel['normalizer'];
  versions: MixtureModel['versions'];
  metrics: MixtureModel['metrics'];
}

/**
 * Finds the shipped weights an expert started from (by key and sha256 of the shipped file). A checkpoint written with
 * it leaves out every tensor still equal to the shipped one, and needs it again to load: shipped models then hold
 * only what fine-tuning changed.
 */
export type BaseWeights = (key: string, baseSha256: string) => StateDict | undefined;

function sameTensor(a: NamedTensor, b: NamedTensor | undefined): boolean {
  if (!b || a.data.length !== b.data.length || a.shape.join() !== b.shape.join()) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export function serializeCheckpoint(model: MixtureModel, base?: BaseWeights): Uint8Array {
  const tensors = new Map<string, NamedTensor>();
  model.head.forEach((l, i) => {
    tensors.set(`head.${i}.w`, { shape: [l.nIn, l.nOut], data: l.w });
    tensors.set(`head.${i}.b`, { shape: [l.nOut], data: l.b });
  });
  const experts = model.experts.map((e, i) => {
    const names: string[] = [];
    const fromBase: string[] = [];
    const shipped = base?.(e.key, e.baseSha256);
    for (const [name, t] of e.weights) {
      if (shipped && sameTensor(t, shipped.get(name))) {
        fromBase.push(name);
        continue;
      }
      tensors.set(`experts.${i}.${name}`, t);
      names.push(name);
    }
    return { key: e.key, kind: e.kind, card: e.card, baseSha256: e.baseSha256, tensors: names, ...(fromBase.length ? { fromBase } : {}) };
  });
  const manifest: Manifest = {
    format: model.format,
    config: model.config,
    expertKeys: model.expertKeys,
    gateLogits: model.gateLogits,
    selected: model.selected,
    gateWeights: model.gateWeights,
    experts,
    head: model.head.map((l) => ({ nIn: l.nIn, nOut: l.nOut })),
    normalizer: model.normalizer,
    versions: model.versions,
    metrics: model.metrics,
  };
  return seal(MAGIC, VERSION, serializeSafetensors(tensors, { matmoe: JSON.stringify(manifest) }));
}

/** sha256 (hex) of a whole checkpoint, for storing beside it. */
export function checkpointSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function loadCheckpoint(bytes: Uint8Array, base?: BaseWeights): MixtureModel {
  const payload = unseal(bytes, MAGIC, VERSION, 'checkpoint');
  let manifest: Manifest;
  let tensors: Map<string, NamedTensor>;
  try {
    const file = parseSafetensors(payload);
    tensors = file.tensors;
    manifest = JSON.parse(file.metadata.matmoe ?? 'null') as Manifest;
  } catch (err) {
    throw new CheckpointError('checkpoint_malformed', `checkpoint payload unreadable: ${(err as Error).message}`);
  }
  if (!manifest || manifest.format !== MODEL_FORMAT) throw new CheckpointError('checkpoint_version', `unknown model format ${String(manifest?.format)}`);
  if (manifest.versions.graph !== GRAPH_VERSION || manifest.versions.atomFeatures !== ATOM_FEATURES_VERSION) {
    throw new CheckpointError(
      'checkpoint_incompatible',
      `checkpoint was trained on features ${manifest.versions.graph}/${manifest.versions.atomFeatures}; this build computes ${GRAPH_VERSION}/${ATOM_FEATURES_VERSION}`,
    );
  }
  const take = (name: string): NamedTensor => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError('checkpoint_malformed', `checkpoint lacks tensor ${name}`);
    return t;
  };
  const head: DenseLayer[] = manifest.head.map((l, i) => ({ nIn: l.nIn, nOut: l.nOut, w: take(`head.${i}.w`).data, b: take(`head.${i}.b`).data }));
  const experts = manifest.experts.map((e, i) => {
    let weights: StateDict = new Map();
    for (const name of e.tensors) weights.set(name, take(`experts.${i}.${name}`));
    if (e.fromBase?.length) {
      const shipped = base?.(e.key, e.baseSha256);
      if (!shipped) throw new CheckpointError('checkpoint_incompatible', `expert ${e.key} (sha256 ${e.baseSha256.slice(0, 12)}…) that this model builds on is not installed`);
      for (const name of e.fromBase) {
        const t = shipped.get(name);
        if (!t) throw new CheckpointError('checkpoint_incompatible', `installed expert ${e.key} lacks tensor ${name}`);
        weights.set(name, t);
      }
      // In the order of the shipped file, which is the order training exports: the model re-serialises to the same bytes.
      const named = weights;
      weights = new Map([...[...shipped.keys()].filter((n) => named.has(n)), ...named.keys()].map((n) => [n, named.get(n)!]));
    }
    const ew = { key: e.key, kind: e.kind, card: e.card, baseSha256: e.baseSha256, weights };
    try {
      expertKind(e.kind).validate(ew);
    } catch (err) {
      throw new CheckpointError('checkpoint_malformed', `expert ${e.key}: ${(err as Error).message}`);
    }
    return ew;
  });
  if (experts.length !== manifest.selected.length || manifest.gateWeights.length !== manifest.selected.length) {
    throw new CheckpointError('checkpoint_malformed', 'selected experts, gate weights and stored experts disagree');
  }
  // Checkpoints written before the output fields existed read as the defaults: no transform, no bound, one group.
  const { targetTransform, targetMin, basis, ensembleGroup } = PAPER_DEFAULTS;
  const stored: Partial<MixtureModel['config']> = manifest.config;
  return {
    format: MODEL_FORMAT,
    config: { ...manifest.config, targetTransform: stored.targetTransform ?? targetTransform, targetMin: stored.targetMin ?? targetMin, basis: stored.basis ?? basis, ensembleGroup: stored.ensembleGroup ?? ensembleGroup },
    expertKeys: manifest.expertKeys,
    gateLogits: manifest.gateLogits,
    selected: manifest.selected,
    gateWeights: manifest.gateWeights,
    experts,
    head,
    normalizer: manifest.normalizer,
    versions: manifest.versions,
    metrics: manifest.metrics,
  };
}
