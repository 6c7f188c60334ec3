/**
 * The one TensorFlow.js namespace of the project: import `tf` from here, never from the packages.
 *
 * Side effects, in this order (ESM evaluates imports in source order):
 * 1. tfjs-core itself, which creates the global engine;
 * 2. the gradients and chained tensor methods that tfjs-core 4.x leaves out of its Node entry
 *    (without them `tf.grad`/optimizers throw "gradient function not found");
 * 3. the cpu and wasm backends registering themselves.
 * Call `initBackend()` from `./backend.js` before computing: it picks the backend and installs our
 * faster kernels and gradients.
 */
import '@tensorflow/tfjs-core';
import './kernels/vendor/tfjs-core-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Types only: declares the chained methods (`x.reshape(...)`) that the bundle above installs.
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

export * as tf from '@tensorflow/tfjs-core';
