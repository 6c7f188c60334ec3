/**
 * Which layers of an ensemble's experts compute the same thing, decided from the weights themselves.
 *
 * Each expert is lowered to a chain of steps (lowering.ts). Two steps are the same computation when they apply the
 * same operation with bit-identical parameter tensors to the same parent (or both to the raw input). Tensors are
 * interned by content: a hash of the bytes picks the candidates, a full comparison decides; the expert's key or
 * baseSha256 is never trusted for this. So the layers a fine-tuned member left frozen collapse into one node per
 * distinct base expert, and a member whose "frozen" layers were changed after all (target BatchNorm statistics, a
 * different base file, a corrupted copy) simply gets nodes of its own.
 */
import { createHash } from 'node:crypto';

export interface TensorRef {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Content-addressed ids for tensors: equal shape and equal bits ⇔ equal id. */
export class TensorInterner {
  private readonly byDigest = new Map<string, { ref: TensorRef; id: number }[]>();
  private next = 0;

  id(t: TensorRef): number {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const digest = createHash('sha1').update(t.shape.join(',')).update(bytes).digest('base64');
    const bucket = this.byDigest.get(digest) ?? [];
    for (const c of bucket) if (sameBits(c.ref, t)) return c.id;
    const id = this.next++;
    bucket.push({ ref: t, id });
    this.byDigest.set(digest, bucket);
    return id;
  }
}

/** Equal shapes and bit-identical values (the same array trivially is). */
export function sameBits(a: TensorRef, b: TensorRef): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data === b.data) return true;
  if (a.data.length !== b.data.length) return false;
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export interface SharedNode {
  /** Node index of the input this step reads; -1 for the raw input. */
  readonly parent: number;
  readonly op: string;
  /** How many (member, expert) chains pass through this node. */
  users: number;
  /** Distance from the raw input (1 = first step). */
  readonly depth: number;
}

/** A prefix tree of steps: node indices are a topological order (a parent is always created before its children). */
export class PrefixTree {
  readonly tensors = new TensorInterner();
  readonly nodes: SharedNode[] = [];
  private readonly byKey = new Map<string, number>();

  /** The node for `op` with `params` applied to `parent`, and whether this call created it. */
  node(parent: number, op: string, params: readonly TensorRef[]): { index: number; created: boolean } {
    const key = `${parent}|${op}|${params.map((p) => this.tensors.id(p)).join(',')}`;
    const found = this.byKey.get(key);
    if (found !== undefined) {
      this.nodes[found].users++;
      return { index: found, created: false };
    }
    const index = this.nodes.length;
    this.nodes.push({ parent, op, users: 1, depth: parent < 0 ? 1 : this.nodes[parent].depth + 1 });
    this.byKey.set(key, index);
    return { index, created: true };
  }
}
