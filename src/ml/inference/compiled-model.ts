/**
 * A stored model (an ensemble of `MixtureModel` members) compiled for serving: `predict` returns, per member,
 * exactly what `predictMixture(member, inputs)` returns (the mixture head's output de-normalised; no target
 * transform, clamping or calibration), without TF.js op dispatch and with shared work done once:
 * - composition descriptors and crystal graphs (atom features, Gaussian edges) once per input for all experts;
 * - every layer that several members' experts compute identically (same input, bit-identical weights; see
 *   shared-prefix.ts) once per input: for the shipped models the frozen encoder layers of each base expert, for
 *   fine-tuned CGCNN mixtures the embedding and frozen convs; then each member's own layers, pooling, mixing and head.
 * Kernels (kernels.ts): XNNPACK matrix products and SIMD element-wise loops on the wasm heap when the wasm backend is
 * initialised in this thread, plain JS otherwise. Inputs run in chunks (≤ 256 rows, ≤ 4096 atoms), which bounds
 * the heap a large batch needs; the chunking does not change any value.
 * A compiled model belongs to the thread that compiled it (its weights live on that thread's wasm heap); `dispose`
 * frees them. Activations use scratch buffers shared by all compiled models of the thread.
 */
import { writeCompositionFeatures, featureCount } from '../../chem/descriptors.js';
import type { Composition } from '../../chem/types.js';
import { graphsOf, type CrystalGraph } from '../cgcnn/batching.js';
import { inputComposition } from '../composition/kind.js';
import type { ExpertInput } from '../experts/expert-kind.js';
import type { MixtureModel } from '../mixture/model.js';
import { meanPoolSoftplus, packChunk, type GraphChunk } from './graph-chunk.js';
import { jsKernels, type Kernels, type PreparedDense, type Region } from './kernels.js';
import { lowerExpert, type Payload } from './lowering.js';
import { PrefixTree } from './shared-prefix.js';
import { wasmKernels } from './wasm-kernels.js';

/** Rows per chunk: XNNPACK is at full speed from ~64 rows; the buffers stay a few MB. */
const ROW_CHUNK = 256;
/**
 * Atoms per chunk (a larger crystal gets a chunk of its own). Every node keeps its chunk's activations and a wasm heap
 * never shrinks, so this bounds what a large batch leaves behind (~6 MB per thread for a 10-member CGCNN model); from
 * ~64 rows XNNPACK is at full speed, and 512 atoms cost the same per crystal as 4096 (bench:inference).
 */
const ATOM_CHUNK = 512;

export interface CompileOptions {
  /** 'auto' (default): the wasm kernels when the wasm backend is initialised in this thread, else plain JS. */
  kernels?: 'auto' | 'wasm' | 'js';
}

/** One computation of the compiled plan, shared by `users` (member, expert) chains. */
export interface PlanNode {
  op: Payload['op'];
  input: 'composition' | 'graph';
  /** 1 = reads the raw input. */
  depth: number;
  users: number;
}

/**
 * Multiply-adds of one forward pass: per input row (composition layers, mixing, heads), per atom, and per row of edge
 * features. predictMixture multiplies one edge-feature row per neighbour slot (atoms × 12); the compiled model one
 * per distinct neighbour distance in a chunk (graph-chunk.ts).
 */
export interface MultiplyAdds {
  perRow: number;
  perAtom: number;
  perEdgeRow: number;
}

export interface DetailedPrediction {
  /** Per member, [inputs.length], in the member's target units. */
  values: Float32Array[];
  /** Per member, the mixed embedding fed to its head, [inputs.length × dim] row-major. */
  embeddings: Float32Array[];
}

interface Node {
  payload: Payload;
  parent: number;
  input: 'composition' | 'graph';
  width: number;
  dense?: PreparedDense;
  edge?: PreparedDense;
  bn?: Region;
  out: Region | null;
}

interface Member {
  leaves: { node: number; weight: number }[];
  head: PreparedDense[];
  hidden: (Region | null)[];
  mean: number;
  std: number;
  dim: number;
  structure: boolean;
}

export class CompiledModel {
  readonly kernels: Kernels['kind'];
  /** Per member: whether its experts read crystal graphs, so every input needs `graph`. */
  readonly structureMembers: readonly boolean[];
  readonly needsStructure: boolean;
  readonly nodes: readonly PlanNode[];
  /** What the plan computes (shared layers once) and what running each member on its own would. */
  readonly multiplyAdds: { shared: MultiplyAdds; unshared: MultiplyAdds };
  private evaluated = 0;
  private readonly k: Kernels;
  private readonly graphNodes: Node[] = [];
  private readonly nodeList: Node[] = [];
  private readonly members: Member[] = [];
  private readonly needsComposition: boolean;
  private readonly scratch: Map<string, Region>;
  private disposed = false;

  constructor(models: readonly MixtureModel[], opts: CompileOptions = {}) {
    if (models.length === 0) throw new RangeError('a compiled model needs at least one member');
    const mode = opts.kernels ?? 'auto';
    const wasm = mode === 'js' ? undefined : wasmKernels();
    if (mode === 'wasm' && !wasm) throw new Error('the wasm backend is not initialised in this thread (call initBackend("wasm") first)');
    this.k = wasm ?? jsKernels;
    this.kernels = this.k.kind;
    this.scratch = scratchPool(this.k);
    const tree = new PrefixTree();
    const shared: MultiplyAdds = { perRow: 0, perAtom: 0, perEdgeRow: 0 };
    const unshared: MultiplyAdds = { perRow: 0, perAtom: 0, perEdgeRow: 0 };
    try {
      for (const m of models) this.addMember(m, tree, shared, unshared);
    } catch (err) {
      // weights already placed on the heap
      this.dispose();
      throw err;
    }
    this.structureMembers = this.members.map((m) => m.structure);
    this.needsStructure = this.structureMembers.some(Boolean);
    this.needsComposition = this.nodeList.some((n) => n.input === 'composition');
    this.nodes = tree.nodes.map((n, i) => ({ op: this.nodeList[i].payload.op, input: this.nodeList[i].input, depth: n.depth, users: n.users }));
    this.multiplyAdds = { shared, unshared };
  }

  /** Lowers a member's experts into the shared plan (new nodes only where no equal one exists) and prepares its head. */
  private addMember(m: MixtureModel, tree: PrefixTree, shared: MultiplyAdds, unshared: MultiplyAdds): void {
    const dim = m.head[0].nIn;
    const member: Member = {
      leaves: [],
      head: m.head.map((l) => this.k.prepareDense({ k: l.nIn, n: l.nOut, w: l.w, b: l.b })),
      hidden: m.head.map(() => null),
      mean: m.normalizer.mean,
      std: m.normalizer.std,
      dim,
      structure: false,
    };
    this.members.push(member);
    const headMacs = m.head.reduce((a, l) => a + l.nIn * l.nOut, 0) + dim * m.experts.length;
    shared.perRow += headMacs;
    unshared.perRow += headMacs;
    m.experts.forEach((e, s) => {
      const lowered = lowerExpert(e);
      member.structure ||= lowered.input === 'graph';
      let parent = -1;
      for (const step of lowered.steps) {
        const { index, created } = tree.node(parent, step.op, step.params);
        if (created) this.addNode(step.payload(), parent, lowered.input);
        const macs = nodeMacs(this.nodeList[index]);
        for (const key of ['perRow', 'perAtom', 'perEdgeRow'] as const) {
          unshared[key] += macs[key];
          if (created) shared[key] += macs[key];
        }
        parent = index;
      }
      if (this.nodeList[parent].width !== dim) throw new Error(`expert ${e.key} gives ${this.nodeList[parent].width}-d embeddings; the head reads ${dim}`);
      member.leaves.push({ node: parent, weight: m.gateWeights[s] });
    });
  }

  /** Node evaluations so far, one per node per chunk of inputs (tests read it to see sharing at work). */
  get evaluations(): number {
    return this.evaluated;
  }

  private addNode(payload: Payload, parent: number, input: 'composition' | 'graph'): void {
    const parentWidth = parent < 0 ? (input === 'composition' ? featureCount : 0) : this.nodeList[parent].width;
    const node: Node = { payload, parent, input, width: parentWidth, out: null };
    switch (payload.op) {
      case 'standardize':
        break;
      case 'dense-softplus':
      case 'atom-embedding':
        node.dense = this.k.prepareDense(payload.dense);
        node.width = payload.dense.n;
        break;
      case 'conv':
        node.dense = this.k.prepareDense(payload.pair);
        node.edge = this.k.prepareDense(payload.edge);
        node.bn = this.k.constant(payload.bn2);
        node.width = payload.atomFea;
        break;
      case 'pool':
        break;
    }
    this.nodeList.push(node);
    if (input === 'graph') this.graphNodes.push(node);
  }

  /** Per member, the raw mixture outputs for `inputs` (what `predictMixture(member, inputs)` returns). */
  predict(inputs: readonly ExpertInput[]): Float32Array[] {
    return this.run(inputs, false).values;
  }

  /** `predict` plus each member's mixed embeddings. */
  predictDetailed(inputs: readonly ExpertInput[]): DetailedPrediction {
    return this.run(inputs, true);
  }

  private run(inputs: readonly ExpertInput[], detailed: boolean): DetailedPrediction {
    if (this.disposed) throw new Error('this compiled model was disposed');
    const n = inputs.length;
    const graphs = this.needsStructure ? graphsOf(inputs) : [];
    // Parsed up front: a bad formula fails the call before any work.
    const comps = this.needsComposition ? inputs.map(inputComposition) : [];
    const values = this.members.map(() => new Float32Array(n));
    const embeddings = this.members.map((m) => new Float32Array(detailed ? n * m.dim : 0));
    for (let s = 0; s < n; ) {
      let e = s + 1;
      let atoms = this.needsStructure ? graphs[s].atomicNumbers.length : 0;
      while (e < n && e - s < ROW_CHUNK && (!this.needsStructure || atoms + graphs[e].atomicNumbers.length <= ATOM_CHUNK)) {
        if (this.needsStructure) atoms += graphs[e].atomicNumbers.length;
        e++;
      }
      this.runChunk(s, e, comps, graphs, values, detailed ? embeddings : null);
      s = e;
    }
    return { values, embeddings };
  }

  /** A scratch region of at least `length` elements, reused across chunks and calls. */
  private region(name: string, length: number): Region {
    const r = this.scratch.get(name);
    if (r && r.length >= length) return r;
    if (r) this.k.free(r);
    const fresh = this.k.alloc(Math.max(length, Math.ceil((r?.length ?? 0) * 1.5)));
    this.scratch.set(name, fresh);
    return fresh;
  }

  private runChunk(s: number, e: number, comps: Composition[], graphs: CrystalGraph[], values: Float32Array[], embeddings: Float32Array[] | null): void {
    const rows = e - s;
    const chunk = this.needsStructure ? packChunk(graphs, s, e) : null;
    const atoms = chunk?.atoms ?? 0;
    // Buffers are (re)allocated here, before the computation. A typed-array view of a region is valid only until the
    // next allocation (a growing wasm memory detaches it), so the loops below take their views right before use.
    this.nodeList.forEach((node, i) => {
      const perAtom = node.input === 'graph' && node.payload.op !== 'pool';
      node.out = this.region(`node${i}`, (perAtom ? atoms : rows) * node.width);
    });
    let features: Float32Array | null = null;
    if (this.needsComposition) {
      features = new Float32Array(rows * featureCount);
      for (let r = 0; r < rows; r++) writeCompositionFeatures(comps[s + r], features, r * featureCount);
    }
    if (chunk) this.prepareGraphBuffers(chunk);
    const mixed = this.region('mixed', rows * Math.max(...this.members.map((m) => m.dim)));
    this.members.forEach((m, mi) => m.head.forEach((l, li) => (m.hidden[li] = this.region(`head${mi}.${li}`, rows * l.n))));

    for (const node of this.nodeList) {
      this.evaluated++;
      this.runNode(node, rows, atoms, features, chunk);
    }
    for (let mi = 0; mi < this.members.length; mi++) {
      const m = this.members[mi];
      const width = rows * m.dim;
      const mix = mixed.f32();
      mix.fill(0, 0, width);
      // Σ p_j E_j accumulated in float32, in the member's expert order: the same roundings as predictMixture.
      for (const leaf of m.leaves) {
        const emb = this.nodeList[leaf.node].out!.f32();
        const p = leaf.weight;
        for (let i = 0; i < width; i++) mix[i] += p * emb[i];
      }
      if (embeddings) embeddings[mi].set(mix.subarray(0, width), s * m.dim);
      let h: Region = mixed;
      m.head.forEach((layer, li) => {
        const out = m.hidden[li]!;
        this.k.dense(layer, h, rows, out, li + 1 < m.head.length ? 'softplus' : 'linear');
        h = out;
      });
      const y = h.f32();
      const v = values[mi];
      for (let r = 0; r < rows; r++) v[s + r] = y[r] * m.std + m.mean;
    }
  }

  private prepareGraphBuffers(chunk: GraphChunk): void {
    const floats: [string, Float32Array][] = [
      ['atomFea', chunk.atomFea],
      ['edgeFea', chunk.edgeFea],
      ['slotCount', chunk.slotCount],
    ];
    const ints: [string, Int32Array][] = [
      ['slotStart', chunk.slotStart],
      ['slotNbr', chunk.slotNbr],
      ['slotRow', chunk.slotRow],
    ];
    for (const [name, data] of [...floats, ...ints]) this.region(name, data.length);
    this.region('pair', chunk.atoms * Math.max(0, ...this.graphNodes.map((n) => n.dense?.n ?? 0)));
    this.region('edgeTerm', chunk.distinctDistances * Math.max(0, ...this.graphNodes.map((n) => n.edge?.n ?? 0)));
    // copies after the last allocation (see runChunk)
    for (const [name, data] of floats) this.scratch.get(name)!.f32().set(data);
    for (const [name, data] of ints) this.scratch.get(name)!.i32().set(data);
  }

  private runNode(node: Node, rows: number, atoms: number, features: Float32Array | null, chunk: GraphChunk | null): void {
    const out = node.out!;
    const input = node.parent >= 0 ? this.nodeList[node.parent].out! : null;
    const p = node.payload;
    switch (p.op) {
      case 'standardize': {
        // (x − mean) / std in float64, stored as float32: the same values as composition/model.ts `standardize`.
        const o = out.f32();
        const d = p.mean.length;
        for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) o[r * d + j] = (features![r * d + j] - p.mean[j]) / p.std[j];
        return;
      }
      case 'dense-softplus':
        this.k.dense(node.dense!, input!, rows, out, 'softplus');
        return;
      case 'atom-embedding':
        this.k.dense(node.dense!, this.scratch.get('atomFea')!, atoms, out, 'linear');
        return;
      case 'conv': {
        const pair = this.scratch.get('pair')!;
        const edge = this.scratch.get('edgeTerm')!;
        this.k.dense(node.dense!, input!, atoms, pair, 'linear');
        this.k.dense(node.edge!, this.scratch.get('edgeFea')!, chunk!.distinctDistances, edge, 'linear');
        const r = (name: string) => this.scratch.get(name)!;
        const slots = { start: r('slotStart'), nbr: r('slotNbr'), row: r('slotRow'), count: r('slotCount') };
        this.k.convClose({ edge, pair, slots, x: input!, bn: node.bn!, out, atoms, atomFea: node.width });
        return;
      }
      case 'pool':
        meanPoolSoftplus(input!.f32(), chunk!.atomCounts, node.width, out.f32());
        return;
    }
  }

  /** Frees the model's weights on the heap (the thread's scratch buffers stay, see releaseInferenceScratch). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const node of this.nodeList) {
      if (node.dense) this.k.releaseDense(node.dense);
      if (node.edge) this.k.releaseDense(node.edge);
      if (node.bn) this.k.free(node.bn);
    }
    for (const m of this.members) m.head.forEach((l) => this.k.releaseDense(l));
  }
}

/**
 * Scratch buffers (activations of a chunk) per kernel set, shared by every compiled model of the thread: `predict`
 * is synchronous, so two models never use them at once, and a worker serving many models holds one set, as large as
 * its largest chunk, instead of one per model.
 */
const pools = new WeakMap<Kernels, Map<string, Region>>();

function scratchPool(k: Kernels): Map<string, Region> {
  let pool = pools.get(k);
  if (!pool) {
    pool = new Map();
    pools.set(k, pool);
  }
  return pool;
}

/** Frees this thread's shared scratch buffers (after an unusually large batch, say); the next predict reallocates. */
export function releaseInferenceScratch(): void {
  for (const k of [wasmKernels(), jsKernels]) {
    const pool = k && pools.get(k);
    if (!k || !pool) continue;
    for (const r of pool.values()) k.free(r);
    pool.clear();
  }
}

function nodeMacs(node: Node): MultiplyAdds {
  const p = node.payload;
  if (p.op === 'dense-softplus') return { perRow: p.dense.k * p.dense.n, perAtom: 0, perEdgeRow: 0 };
  if (p.op === 'atom-embedding') return { perRow: 0, perAtom: p.dense.k * p.dense.n, perEdgeRow: 0 };
  if (p.op === 'conv') return { perRow: 0, perAtom: p.pair.k * p.pair.n, perEdgeRow: p.edge.k * p.edge.n };
  return { perRow: 0, perAtom: 0, perEdgeRow: 0 };
}

/** Compiles the members of one stored model (see CompiledModel). */
export function compileModel(members: readonly MixtureModel[], opts?: CompileOptions): CompiledModel {
  return new CompiledModel(members, opts);
}
