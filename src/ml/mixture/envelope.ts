/**
 * The two byte layouts every stored MatMoE artefact is built from:
 *   sealed:  8-byte ASCII tag | u32 LE format version | sha256 of the payload (32 bytes) | payload
 *   framed:  8-byte ASCII tag | u32 LE part count | for each part: u32 LE byte length | part
 * A sealed file refuses a single flipped bit; a framed one carries parts that are each sealed on their own
 * (model checkpoints, run results).
 */
import { createHash } from 'node:crypto';

const SEAL_HEADER = 8 + 4 + 32;

export const CHECKPOINT_ERROR_CODES = ['checkpoint_malformed', 'checkpoint_checksum', 'checkpoint_version', 'checkpoint_incompatible'] as const;

export class CheckpointError extends Error {
  constructor(
    readonly code: (typeof CHECKPOINT_ERROR_CODES)[number],
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

function writeTag(out: Uint8Array, tag: string): void {
  if (tag.length !== 8) throw new RangeError(`a tag has 8 characters (${tag})`);
  out.set(new TextEncoder().encode(tag), 0);
}

function hasTag(bytes: Uint8Array, tag: string, minLength: number): boolean {
  return bytes.byteLength >= minLength && new TextDecoder().decode(bytes.subarray(0, 8)) === tag;
}

export function seal(tag: string, version: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(SEAL_HEADER + payload.byteLength);
  writeTag(out, tag);
  new DataView(out.buffer).setUint32(8, version, true);
  out.set(createHash('sha256').update(payload).digest(), 12);
  out.set(payload, SEAL_HEADER);
  return out;
}

/** The payload of `seal(tag, version, payload)`; `what` names the artefact in errors ("checkpoint", "trainer state"). */
export function unseal(bytes: Uint8Array, tag: string, version: number, what: string): Uint8Array {
  if (!hasTag(bytes, tag, SEAL_HEADER)) throw new CheckpointError('checkpoint_malformed', `not a MatMoE ${what} (bad magic)`);
  const found = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (found !== version) throw new CheckpointError('checkpoint_version', `${what} format version ${found} is not supported (expected ${version})`);
  const payload = bytes.subarray(SEAL_HEADER);
  const digest = createHash('sha256').update(payload).digest();
  if (!Buffer.from(digest).equals(Buffer.from(bytes.subarray(12, SEAL_HEADER)))) {
    throw new CheckpointError('checkpoint_checksum', `${what} checksum mismatch: the bytes are corrupted`);
  }
  return payload;
}

export function frame(tag: string, parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(12 + parts.reduce((a, p) => a + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  writeTag(out, tag);
  view.setUint32(8, parts.length, true);
  let at = 12;
  for (const p of parts) {
    view.setUint32(at, p.byteLength, true);
    out.set(p, at + 4);
    at += 4 + p.byteLength;
  }
  return out;
}

/** The parts of `frame(tag, parts)` (views into `bytes`); at least one. */
export function unframe(bytes: Uint8Array, tag: string, what: string): Uint8Array[] {
  if (!hasTag(bytes, tag, 12)) throw new CheckpointError('checkpoint_malformed', `not a MatMoE ${what} (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const parts: Uint8Array[] = [];
  let at = 12;
  for (let i = 0; i < n; i++) {
    if (at + 4 > bytes.byteLength) throw new CheckpointError('checkpoint_malformed', `${what} truncated before member ${i}`);
    const len = view.getUint32(at, true);
    if (at + 4 + len > bytes.byteLength) throw new CheckpointError('checkpoint_malformed', `${what} member ${i} is truncated`);
    parts.push(bytes.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== bytes.byteLength || n === 0) throw new CheckpointError('checkpoint_malformed', `${what} has trailing bytes or no member`);
  return parts;
}

/** JSON that keeps non-finite numbers (an infinite best MAE before the first scored epoch, a diverged loss). */
export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $num: String(x) } : x));
export const fromJson = (s: string): unknown =>
  JSON.parse(s, (_k, x: unknown) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return x;
    const keys = Object.keys(x);
    const n = (x as { $num?: unknown }).$num;
    return keys.length === 1 && typeof n === 'string' ? Number(n) : x;
  });
