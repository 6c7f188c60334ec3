/**
 * Installs our kernels and gradients for a backend; `initBackend` calls it after `setBackend`.
 *
 * Kernels replace the stock ones for that backend only (the stock function is kept as the fallback for
 * the cases a replacement does not handle). Gradients are global in tfjs; ours defer to the stock
 * gradient unless the active backend is one we installed kernels for.
 */
import type { GradConfig, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { makeConcatWasm } from './concat.js';
import { makeGatherWasm } from './gather.js';
import { customGradients } from './gradients.js';
import { makeCastWasm, makeIdentityWasm } from './identity.js';
import { makeBatchMatMulWasm, makeFusedMatMulWasm } from './matmul.js';
import { makeMeanWasm, makeSumWasm } from './reduce.js';
import { segmentSumCpuConfig, segmentSumWasmConfig } from './segment_sum.js';
import { makeSliceWasm, makeSplitVWasm } from './slice.js';
import { makeSoftplusWasm } from './softplus.js';
import { makeTileWasm } from './tile.js';

type KernelMaker = (stock: KernelFunc) => KernelConfig;

const missing: KernelFunc = () => {
  throw new Error('no stock kernel to fall back to');
};

/** Replacement kernels per backend, by kernel name. */
export const CUSTOM_KERNELS: Readonly<Record<string, Readonly<Record<string, KernelMaker>>>> = {
  wasm: {
    [tf.UnsortedSegmentSum]: () => segmentSumWasmConfig,
    [tf.GatherV2]: makeGatherWasm,
    [tf.BatchMatMul]: makeBatchMatMulWasm,
    [tf._FusedMatMul]: makeFusedMatMulWasm,
    [tf.Slice]: makeSliceWasm,
    [tf.SplitV]: makeSplitVWasm,
    [tf.Concat]: makeConcatWasm,
    [tf.Tile]: makeTileWasm,
    [tf.Sum]: makeSumWasm,
    [tf.Mean]: makeMeanWasm,
    [tf.Identity]: makeIdentityWasm,
    [tf.Cast]: makeCastWasm,
    [tf.Softplus]: makeSoftplusWasm,
  },
  cpu: {
    [tf.UnsortedSegmentSum]: () => segmentSumCpuConfig,
  },
};

export interface InstallOptions {
  /** Kernel names to install (default: all of `CUSTOM_KERNELS[backend]`). For benchmarks. */
  kernels?: readonly string[];
  /** Install the custom gradients (default true). For benchmarks. */
  gradients?: boolean;
}

const installed = new Map<string, string[]>();
let ourGradients: GradConfig[] | undefined;

function override(backendName: string, kernelName: string, make: KernelMaker): void {
  const prev = tf.getKernel(kernelName, backendName);
  const config = make(prev?.kernelFunc ?? missing);
  if (prev !== undefined) tf.unregisterKernel(kernelName, backendName);
  // Keep the stock setup: it binds the C++ function our fallback calls, and reruns if the backend is rebuilt.
  tf.registerKernel({ ...config, backendName, setupFunc: prev?.setupFunc, disposeFunc: prev?.disposeFunc });
}

function stockGradient(name: string): GradConfig {
  const g = tf.getGradient(name);
  if (g === undefined) throw new Error(`tfjs-core has no gradient for ${name}: is src/ml/tf.ts loaded?`);
  return g;
}

/**
 * Registers our gradients unless they are already the registered ones. Checked on every activation
 * because importing `@tensorflow/tfjs` (tfjs-node does) registers the stock gradients again.
 */
function ensureGradients(): void {
  if (ourGradients === undefined) {
    const active = (): boolean => installed.has(tf.getBackend());
    ourGradients = customGradients(active, stockGradient);
  }
  for (const g of ourGradients) {
    if (tf.getGradient(g.kernelName) !== g) tf.registerGradient(g);
  }
}

/** Installs the kernels once per backend; returns the names of the kernels replaced or added. */
export function installCustomKernels(backendName: string, options: InstallOptions = {}): string[] {
  const makers = CUSTOM_KERNELS[backendName];
  // Other backends (tensorflow) keep their kernels, and the stock gradients stay in effect on them.
  if (makers === undefined) return [];
  let names = installed.get(backendName);
  if (names === undefined) {
    names = Object.keys(makers).filter((n) => options.kernels === undefined || options.kernels.includes(n));
    for (const name of names) override(backendName, name, makers[name]);
    installed.set(backendName, names);
  }
  if (options.gradients !== false) ensureGradients();
  return names;
}
