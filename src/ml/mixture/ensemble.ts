/**
 * A stored model is an ensemble of one or more mixture checkpoints (e.g. the 5 paper splits of a shipped model):
 *   "MATMOEEN" | u32 LE member count | for each member: u32 LE byte length | checkpoint bytes
 * Each member carries its own checksum (checkpoint.ts); the database stores a sha256 of the whole beside it.
 */
import { CheckpointError, checkpointSha256, loadCheckpoint, serializeCheckpoint, type BaseWeights } from './checkpoint.js';
import type { MixtureModel } from './model.js';

const MAGIC = 'MATMOEEN';

export function serializeEnsemble(members: readonly MixtureModel[], base?: BaseWeights): Uint8Array {
  if (members.length === 0) throw new RangeError('an ensemble needs at least one member');
  const parts = members.map((m) => serializeCheckpoint(m, base));
  const out = new Uint8Array(12 + parts.reduce((a, p) => a + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, parts.length, true);
  let at = 12;
  for (const p of parts) {
    view.setUint32(at, p.byteLength, true);
    out.set(p, at + 4);
    at += 4 + p.byteLength;
  }
  return out;
}

export function loadEnsemble(bytes: Uint8Array, base?: BaseWeights): MixtureModel[] {
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new CheckpointError('checkpoint_malformed', 'not a MatMoE model (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const members: MixtureModel[] = [];
  let at = 12;
  for (let i = 0; i < n; i++) {
    if (at + 4 > bytes.byteLength) throw new CheckpointError('checkpoint_malformed', `model truncated before member ${i}`);
    const len = view.getUint32(at, true);
    if (at + 4 + len > bytes.byteLength) throw new CheckpointError('checkpoint_malformed', `model member ${i} is truncated`);
    members.push(loadCheckpoint(bytes.subarray(at + 4, at + 4 + len), base));
    at += 4 + len;
  }
  if (at !== bytes.byteLength || n === 0) throw new CheckpointError('checkpoint_malformed', 'model has trailing bytes or no member');
  return members;
}

export { checkpointSha256 as modelSha256 };
