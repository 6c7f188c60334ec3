/**
 * A stored model is an ensemble of one or more mixture checkpoints (e.g. the 5 paper splits of a shipped model):
 *   "MATMOEEN" | u32 LE member count | for each member: u32 LE byte length | checkpoint bytes
 * Each member carries its own checksum (checkpoint.ts); the database stores a sha256 of the whole beside it.
 */
import { checkpointSha256, loadCheckpoint, serializeCheckpoint, type BaseWeights } from './checkpoint.js';
import type { MixtureModel } from './model.js';
import { frame, unframe } from './envelope.js';

const MAGIC = 'MATMOEEN';

export function serializeEnsemble(members: readonly MixtureModel[], base?: BaseWeights): Uint8Array {
  if (members.length === 0) throw new RangeError('an ensemble needs at least one member');
  return frame(MAGIC, members.map((m) => serializeCheckpoint(m, base)));
}

export function loadEnsemble(bytes: Uint8Array, base?: BaseWeights): MixtureModel[] {
  return unframe(bytes, MAGIC, 'model').map((part) => loadCheckpoint(part, base));
}

export { checkpointSha256 as modelSha256 };
