/**
 * Compute backend selection: one code path over tfjs backends.
 *
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` (tried first) or `@tensorflow/tfjs-node`.
 *   Both are optional dependencies whose install downloads libtensorflow, so they are often absent.
 *   They import their own `@tensorflow/tfjs`, but tfjs-core keeps its engine and kernel registry on
 *   `globalThis`, so the `tensorflow` backend they register is the one our `tf` namespace runs on
 *   (as long as their tfjs-core is the same major version; the npm lockfile dedupes it to ours).
 * - `wasm`: XNNPACK with SIMD, single-threaded under Node. Installs from the registry alone.
 * - `cpu`: plain JS, ~25x slower than wasm; only when asked (small tests).
 * `auto` = tensorflow if it loads, else wasm.
 *
 * `initBackend` is idempotent: a second call with the same name returns the cached info. A call with
 * another name switches the active backend (tfjs moves existing tensors to it on first use); that is
 * meant for tests and benchmarks, a service process should call it once at startup.
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
  const run = queue.then(() => (current?.requested === name ? current : select(name)));
  queue = run.catch(() => undefined);
  return run;
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
  if (!(await tf.setBackend(name))) {
    throw new Error(`tfjs could not initialise the '${name}' backend`);
  }
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
