/**
 * Compute backend selection: one code path over tfjs backends.
 *
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` (tried first) or `@tensorflow/tfjs-node`.
 *   Both are optional dependencies whose install downloads libtensorflow, so they are often absent.
 *   They import their own `@tensorflow/tfjs`, but tfjs-core keeps its engine and kernel registry on
 *   `globalThis`, so the `tensorflow` backend they register is the one our `tf` namespace runs on, even
 *   if npm installs a second copy of tfjs-core for them (checked by loading a copy side by side; with
 *   matching versions npm dedupes it to ours anyway).
 * - `wasm`: XNNPACK with SIMD, single-threaded under Node. Installs from the registry alone.
 * - `cpu`: plain JS, ~25x slower than wasm; only when asked (small tests).
 * `auto` = tensorflow if it loads, else wasm.
 *
 * `initBackend` is idempotent: a second call with the same name returns the cached info (unless
 * `tf.setBackend` was called directly in between, then it selects again). A call with another name
 * switches the active backend (tfjs moves existing tensors to it on first use); that is meant for tests
 * and benchmarks, a service process should call it once at startup. Call it before any tf op: an op
 * run earlier makes tfjs pick the cpu backend on its own, without our kernels.
 */
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { installCustomKernels } from './kernels/register.js';
import { tf } from './tf.js';

export type BackendName = 'auto' | 'wasm' | 'cpu' | 'tensorflow';

export interface BackendInfo {
  name: 'wasm' | 'cpu' | 'tensorflow';
  requested: BackendName;
  simd?: boolean;
  threads?: number;
  /** Human-readable: what runs, and why another candidate was skipped. */
  detail: string;
  tfjsVersion: string;
}

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: BackendInfo | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** The backend chosen by the last successful `initBackend`, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/** Selects and initialises the backend, then installs our kernels for it. */
export function initBackend(name: BackendName = 'auto'): Promise<BackendInfo> {
  // Serialised so that concurrent callers see one initialisation.
  const run = queue.then(() => (isCurrent(name) ? current! : select(name)));
  queue = run.catch(() => undefined);
  return run;
}

/** Cached unless someone switched tfjs to another backend behind our back. */
function isCurrent(name: BackendName): boolean {
  return current !== undefined && current.requested === name && tf.engine().backendName === current.name;
}

async function select(requested: BackendName): Promise<BackendInfo> {
  if (requested !== 'auto' && requested !== 'wasm' && requested !== 'cpu' && requested !== 'tensorflow') {
    throw new Error(`unknown backend '${String(requested)}' (expected auto, wasm, cpu or tensorflow)`);
  }
  let skipped = '';
  if (requested === 'tensorflow' || requested === 'auto') {
    const tfNode = await loadTensorflow();
    if (tfNode.ok) return activate('tensorflow', requested, `libtensorflow via ${tfNode.detail}`);
    if (requested === 'tensorflow') {
      throw new Error(
        `backend 'tensorflow' is unavailable (${tfNode.detail}). Install @tensorflow/tfjs-node ` +
          '(CPU) or @tensorflow/tfjs-node-gpu (CUDA); their install step downloads libtensorflow.',
      );
    }
    skipped = `; tensorflow skipped (${tfNode.detail})`;
  }
  if (requested === 'cpu') return activate('cpu', requested, 'plain JavaScript kernels');
  return activate('wasm', requested, '', skipped);
}

type LoadResult = { ok: true; detail: string } | { ok: false; detail: string };

async function loadTensorflow(): Promise<LoadResult> {
  if (tf.findBackendFactory('tensorflow') !== null) return { ok: true, detail: 'an already loaded tfjs-node' };
  const reasons: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      const mod: unknown = await import(pkg);
      if (tf.findBackendFactory('tensorflow') !== null) return { ok: true, detail: `${pkg} ${packageVersion(mod)}` };
      reasons.push(`${pkg} loaded but registered no 'tensorflow' backend`);
    } catch (err) {
      reasons.push(`${pkg}: ${describeImportError(err)}`);
    }
  }
  return { ok: false, detail: reasons.join('; ') };
}

function packageVersion(mod: unknown): string {
  const version = (mod as { version?: Record<string, unknown> } | null)?.version;
  const v = version?.['tfjs-node'];
  return typeof v === 'string' ? v : '';
}

function describeImportError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
  const message = err instanceof Error ? err.message : String(err);
  return `failed to load: ${message.split('\n')[0]}`;
}

async function activate(
  name: BackendInfo['name'],
  requested: BackendName,
  detail: string,
  suffix = '',
): Promise<BackendInfo> {
  const before = processListeners();
  const ok = await tf.setBackend(name);
  if (name === 'wasm') dropListenersAddedSince(before);
  if (!ok) throw new Error(`tfjs could not initialise the '${name}' backend`);
  await tf.ready();
  if (name === 'cpu') {
    // Its first write prints advice to install tfjs-node, which is wrong when it was asked for.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  const kernels = installCustomKernels(name);
  const info: BackendInfo = { name, requested, detail, tfjsVersion: tf.version_core };
  if (name === 'wasm') {
    info.simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    info.threads = getThreadsCount();
    info.detail = `XNNPACK wasm, ${info.simd ? 'SIMD' : 'no SIMD'}, ${info.threads} thread(s)`;
  }
  if (kernels.length > 0) info.detail += `; custom kernels: ${kernels.join(', ')}`;
  info.detail += suffix;
  current = info;
  return info;
}

type Listener = (...args: unknown[]) => void;
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
const emitter: NodeJS.EventEmitter = process;

function processListeners(): Map<string, Set<Listener>> {
  return new Map(PROCESS_EVENTS.map((e) => [e, new Set(emitter.listeners(e) as Listener[])]));
}

/**
 * The Emscripten glue of the wasm backend installs process handlers that only rethrow, so that every
 * later uncaught error is reported at their throw site: one 30 KB minified line in the logs. Without
 * them Node's default handling (print the real stack, exit) is the same outcome, readable.
 */
function dropListenersAddedSince(before: Map<string, Set<Listener>>): void {
  for (const event of PROCESS_EVENTS) {
    for (const listener of emitter.listeners(event) as Listener[]) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener);
    }
  }
}
