/**
 * Benchmarks of the custom tfjs kernels (src/ml/kernels) on a synthetic CGCNN training step.
 *
 *   node --import tsx bench/kernels.ts                       # stock vs custom, one child process each
 *   node --import tsx bench/kernels.ts --mode custom --profile   # one mode, per-kernel self times
 *
 * Options: --mode stock|custom|cpu, --atoms 20000, --nbr 12, --fea 64, --crystals 1000, --steps 3,
 * --form halves|split (filter/core as two products, or one 128-wide product + tf.split),
 * --self broadcast|gather (x_i W_self added as [N,1,A] or gathered per edge),
 * --nbrsum reshape|segment (sum over neighbours as reshape + sum(axis 1), or unsortedSegmentSum),
 * --kernels Name,Name (custom mode: install only these kernels), --no-grads, --micro (op micro-benchmarks),
 * --json; env BENCH_SHAPES=1 splits the --profile table by input shapes.
 * "stock" installs only the wasm UnsortedSegmentSum (without it a CGCNN cannot train on wasm at all);
 * "cpu" is initBackend('cpu') (slow: use --atoms 2000).
 *
 * Measured on the shared 2-core dev machine (tfjs 4.22, Node 20, wasm SIMD, 1 thread), default
 * options (20k atoms x 12 neighbours, 64 features, one conv layer + BN in training mode + pooling + Adam),
 * best step in process CPU time (wall time was up to 2x higher from other load):
 *   stock 4.6 s/step (heap 3.4 GiB)  ->  custom 0.74 s/step (heap 2.7 GiB)
 *   ablations (custom minus ...): gradients 1.34 s, Sum/Mean 2.34 s, Identity/Cast sharing 0.94 s,
 *   Softplus 0.83 s. The --form/--self/--nbrsum variants all land at 0.74-0.79 s with custom kernels.
 *   30k atoms reaches the 4 GiB wasm heap (2.7 s/step); 35k aborts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../src/ml/backend.js';
import { installCustomKernels } from '../src/ml/kernels/register.js';
import { tf } from '../src/ml/tf.js';

const { values: opt } = parseArgs({
  options: {
    mode: { type: 'string' },
    atoms: { type: 'string', default: '20000' },
    nbr: { type: 'string', default: '12' },
    fea: { type: 'string', default: '64' },
    crystals: { type: 'string', default: '1000' },
    steps: { type: 'string', default: '3' },
    form: { type: 'string', default: 'halves' },
    self: { type: 'string', default: 'broadcast' },
    nbrsum: { type: 'string', default: 'reshape' },
    kernels: { type: 'string' },
    'no-grads': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    micro: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const N = Number(opt.atoms);
const M = Number(opt.nbr);
const A = Number(opt.fea);
const C = Number(opt.crystals);
const G = 41;

async function setup(mode: string): Promise<void> {
  if (mode === 'cpu' || (mode === 'custom' && opt.kernels === undefined && !opt['no-grads'])) {
    await initBackend(mode === 'cpu' ? 'cpu' : 'wasm');
    return;
  }
  await tf.setBackend('wasm');
  await tf.ready();
  if (mode === 'stock') installCustomKernels('wasm', { kernels: [tf.UnsortedSegmentSum], gradients: false });
  else installCustomKernels('wasm', { kernels: opt.kernels?.split(','), gradients: !opt['no-grads'] });
}

/** Per-kernel self time: wraps every registered kernel of the backend (nested calls subtracted). */
function profileKernels(backendName: string): Map<string, { ms: number; calls: number }> {
  const table = new Map<string, { ms: number; calls: number }>();
  const stack: number[] = [];
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    config.kernelFunc = (args) => {
      stack.push(0);
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const total = performance.now() - t0;
        const nested = stack.pop()!;
        if (stack.length > 0) stack[stack.length - 1]! += total;
        const key = process.env.BENCH_SHAPES
          ? `${config.kernelName} ${Object.values(args.inputs).map((t) => `[${t!.shape}]`).join('')} ${JSON.stringify(args.attrs ?? {})}`
          : config.kernelName;
        const row = table.get(key) ?? { ms: 0, calls: 0 };
        row.ms += total - nested;
        row.calls++;
        table.set(key, row);
      }
    };
  }
  return table;
}

function randInt(n: number, max: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(Math.random() * max);
  return a;
}

interface StepResult {
  stepMs: number[];
  /** Process CPU time (user + system) per step: steadier than wall time on a shared machine. */
  cpuMs: number[];
  tensorsBefore: number;
  tensorsAfter: number;
  loss: number;
}

function cgcnnStep(onWarm: () => void): StepResult {
  const R = N * M;
  const selfIdx = tf.tensor1d(Int32Array.from({ length: R }, (_, i) => Math.floor(i / M)), 'int32');
  const nbrIdx = tf.tensor1d(randInt(R, N), 'int32');
  const crystal = tf.tensor1d(Int32Array.from({ length: N }, (_, i) => Math.floor((i * C) / N)), 'int32');
  const counts = tf.tidy(() => tf.reshape(tf.unsortedSegmentSum(tf.ones([N]), crystal, C), [C, 1]));
  const atomIn = tf.randomUniform([N, 92]);
  const edge = tf.randomUniform([R, G]);
  const target = tf.randomNormal([C, 1]);
  const v = (shape: number[], scale = 0.1) => tf.variable(tf.randomNormal(shape, 0, scale));
  const W = {
    emb: v([92, A]),
    embB: v([A], 0),
    self: v([A, 2 * A]),
    nbr: v([A, 2 * A]),
    edge: v([G, 2 * A]),
    b: v([2 * A], 0),
    g1: tf.variable(tf.ones([2 * A])),
    be1: v([2 * A], 0),
    g2: tf.variable(tf.ones([A])),
    be2: v([A], 0),
    head: v([A, 1]),
    headB: v([1], 0),
  };
  const batchNorm = (z: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, axes: number[]) => {
    const { mean, variance } = tf.moments(z, axes);
    return tf.add(tf.mul(tf.mul(tf.sub(z, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  };
  const prePart = (x: tf.Tensor2D, lo: number, width: number) => {
    const cols = (w: tf.Variable) => (width === 2 * A ? w : tf.slice(w, [0, lo], [-1, width]));
    const selfP = tf.add(tf.matMul(x, cols(W.self) as tf.Tensor2D), tf.slice(W.b, [lo], [width]));
    const perEdge = tf.add(tf.gather(tf.matMul(x, cols(W.nbr) as tf.Tensor2D), nbrIdx), tf.matMul(edge, cols(W.edge) as tf.Tensor2D));
    if (opt.self === 'gather') return tf.reshape(tf.add(perEdge, tf.gather(selfP, selfIdx)), [N, M, width]);
    return tf.add(tf.reshape(perEdge, [N, M, width]), tf.reshape(selfP, [N, 1, width]));
  };
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      const x = tf.add(tf.matMul(atomIn, W.emb), W.embB) as tf.Tensor2D;
      let filt: tf.Tensor;
      let core: tf.Tensor;
      if (opt.form === 'split') {
        const z = batchNorm(prePart(x, 0, 2 * A), W.g1, W.be1, [0, 1]);
        [filt, core] = tf.split(z, 2, 2) as [tf.Tensor, tf.Tensor];
      } else {
        filt = batchNorm(prePart(x, 0, A), tf.slice(W.g1, [0], [A]), tf.slice(W.be1, [0], [A]), [0, 1]);
        core = batchNorm(prePart(x, A, A), tf.slice(W.g1, [A], [A]), tf.slice(W.be1, [A], [A]), [0, 1]);
      }
      const msg = tf.mul(tf.sigmoid(filt), tf.softplus(core));
      const summed =
        opt.nbrsum === 'segment'
          ? tf.unsortedSegmentSum(tf.reshape(msg, [N * M, A]), selfIdx, N)
          : tf.sum(msg, 1);
      const out = tf.softplus(tf.add(x, batchNorm(summed, W.g2, W.be2, [0])));
      const pooled = tf.softplus(tf.div(tf.unsortedSegmentSum(out, crystal, C), counts));
      const y = tf.add(tf.matMul(pooled, W.head), W.headB);
      return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
    });
  const adam = tf.train.adam(1e-3);
  const stepMs: number[] = [];
  const cpuMs: number[] = [];
  let tensorsBefore = 0;
  let lastLoss = NaN;
  const steps = Number(opt.steps);
  for (let s = 0; s <= steps; s++) {
    if (s === 1) {
      tensorsBefore = tf.memory().numTensors;
      onWarm();
    }
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const l = adam.minimize(loss, true, Object.values(W));
    lastLoss = l!.dataSync()[0]!;
    l!.dispose();
    if (s > 0) {
      // step 0 warms up
      stepMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuMs.push((c.user + c.system) / 1000);
    }
  }
  const tensorsAfter = tf.memory().numTensors;
  adam.dispose();
  tf.dispose([selfIdx, nbrIdx, crystal, counts, atomIn, edge, target, ...Object.values(W)]);
  return { stepMs, cpuMs, tensorsBefore, tensorsAfter, loss: lastLoss };
}

function micro(): Record<string, number> {
  const R = N * M;
  const res: Record<string, number> = {};
  // Best of `reps` in process CPU time (the machine is shared; wall time is noisy).
  const time = (name: string, f: () => tf.Tensor | tf.Tensor[], reps = 3) => {
    tf.tidy(() => void f());
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      const c0 = process.cpuUsage();
      tf.tidy(() => void f());
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1000);
    }
    res[name] = Math.round(best * 10) / 10;
  };
  const x = tf.randomNormal([R, 2 * A]);
  const e = tf.randomNormal([R, G]);
  const a = tf.randomNormal([N, 2 * A]);
  const w = tf.randomNormal([G, 2 * A]);
  const ids = tf.tensor1d(randInt(R, N), 'int32');
  time(`unsortedSegmentSum [${R},${2 * A}] -> ${N}`, () => tf.unsortedSegmentSum(x, ids, N));
  time(`gather [${N},${2 * A}] x ${R}`, () => tf.gather(a, ids));
  time(`matMul e^T dy (transposeA) [${R},${G}]`, () => tf.matMul(e, x, true, false), 1);
  time(`matMul dy W^T (transposeB)`, () => tf.matMul(x, w, false, true), 1);
  time(`split [${R},${2 * A}] in 2`, () => tf.split(x, 2, 1));
  time(`concat 2 x [${R},${A}]`, () => tf.concat([tf.slice(x, [0, 0], [-1, A]), tf.slice(x, [0, A], [-1, A])], 1));
  time(`sum axis 0 [${R},${2 * A}]`, () => tf.sum(x, 0));
  time(`sum axis 1 [${N},${M},${2 * A}]`, () => tf.sum(tf.reshape(x, [N, M, 2 * A]), 1));
  time(`moments axes [0,1] [${N},${M},${2 * A}]`, () => Object.values(tf.moments(tf.reshape(x, [N, M, 2 * A]), [0, 1])));
  time(`tile [${N},1,${2 * A}] x ${M}`, () => tf.tile(tf.reshape(a, [N, 1, 2 * A]), [1, M, 1]), 1);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)));
  time(`grad of gather`, () => g(a), 1);
  const gs = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.unsortedSegmentSum(t, ids, N))));
  time(`grad of unsortedSegmentSum`, () => gs(x), 1);
  const gm = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q)));
  time(`grads of matMul [${R},${G}]x[${G},${2 * A}]`, () => gm([e, w]), 1);
  tf.dispose([x, e, a, w, ids]);
  return res;
}

async function runOne(mode: string): Promise<Record<string, unknown>> {
  await setup(mode);
  const table = opt.profile ? profileKernels(tf.getBackend()) : undefined;
  const result: Record<string, unknown> = { mode, backend: tf.getBackend() };
  if (opt.micro) result.micro = micro();
  else {
    const r = cgcnnStep(() => table?.clear());
    Object.assign(result, {
      stepMs: Math.round(Math.min(...r.stepMs)),
      cpuMs: Math.round(Math.min(...r.cpuMs)),
      steps: r.stepMs.map(Math.round),
      cpuSteps: r.cpuMs.map(Math.round),
      leak: r.tensorsAfter - r.tensorsBefore,
      loss: r.loss,
    });
  }
  if (table !== undefined) {
    result.kernels = Object.fromEntries(
      [...table.entries()].sort((p, q) => q[1].ms - p[1].ms).slice(0, 25).map(([k, s]) => [k, `${s.ms.toFixed(0)} ms / ${s.calls}`]),
    );
  }
  const wasm = tf.getBackend() === 'wasm' ? (tf.backend() as BackendWasm) : undefined;
  if (wasm !== undefined) result.heapMiB = Math.round((wasm.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length / 2 ** 20);
  return result;
}

if (opt.mode !== undefined) {
  const r = await runOne(opt.mode);
  console.log(opt.json ? JSON.stringify(r) : r);
} else {
  const self = fileURLToPath(import.meta.url);
  const passThrough = process.argv.slice(2);
  for (const mode of ['stock', 'custom']) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--mode', mode, '--json', ...passThrough], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const line = out.trim().split('\n').at(-1) ?? '{}';
    console.log(JSON.parse(line));
  }
}
