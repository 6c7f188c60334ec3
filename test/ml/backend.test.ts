/** Backend selection (src/ml/backend.ts) and the shared tfjs namespace (src/ml/tf.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendInfo, initBackend, type BackendName } from '../../src/ml/backend.js';
import { TFJS_CORE_VERSION } from '../../src/ml/kernels/vendor/tfjs-core-gradients.js';
import { tf } from '../../src/ml/tf.js';

/** Whether a tfjs-node flavour can be loaded here (it is an optional dependency). */
async function tensorflowLoads(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return true;
    } catch {
      // absent or failing: try the next one
    }
  }
  return false;
}

describe('tf namespace', () => {
  it('has gradients and chained methods registered, from a bundle matching the installed tfjs-core', async () => {
    assert.equal(TFJS_CORE_VERSION, tf.version_core, 'regenerate src/ml/kernels/vendor (see generate.ts)');
    await initBackend('cpu');
    for (const kernel of [tf.Multiply, tf.Softplus, tf.Sigmoid, tf.GatherV2, tf.Concat, tf.BatchMatMul]) {
      assert.ok(tf.getGradient(kernel) !== undefined, `gradient of ${kernel}`);
    }
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])).dataSync());
    assert.deepEqual(Array.from(g), [2, -4, 6]);
    const r = tf.tidy(() => tf.tensor1d([1, 2, 3, 4]).reshape([2, 2]).shape);
    assert.deepEqual(r, [2, 2]);
  });
});

describe('initBackend', () => {
  it('selects cpu and wasm on request, caches per name, and reports them', async () => {
    const cpu = await initBackend('cpu');
    assert.equal(cpu.name, 'cpu');
    assert.equal(cpu.requested, 'cpu');
    assert.equal(cpu.tfjsVersion, tf.version_core);
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(await initBackend('cpu'), cpu, 'same name returns the cached info');
    assert.equal(backendInfo(), cpu);

    const handlers = () => process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length;
    const handlersBefore = handlers();
    const [w1, w2] = await Promise.all([initBackend('wasm'), initBackend('wasm')]);
    assert.equal(handlers(), handlersBefore, "the wasm glue's rethrowing process handlers are removed");
    assert.equal(w1, w2, 'concurrent calls share one initialisation');
    assert.equal(w1.name, 'wasm');
    assert.equal(typeof w1.simd, 'boolean');
    assert.ok(w1.threads !== undefined && w1.threads >= 1);
    assert.match(w1.detail, /UnsortedSegmentSum/);
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(backendInfo(), w1);
    assert.ok(tf.getKernel(tf.UnsortedSegmentSum, 'wasm') !== undefined);
  });

  it('auto picks tensorflow when tfjs-node loads, else wasm, and says why', async () => {
    const available = await tensorflowLoads();
    const info = await initBackend('auto');
    assert.equal(info.requested, 'auto');
    if (available) {
      assert.equal(info.name, 'tensorflow');
    } else {
      assert.equal(info.name, 'wasm');
      assert.match(info.detail, /tensorflow skipped/);
      assert.match(info.detail, /@tensorflow\/tfjs-node/);
    }
    assert.equal(tf.getBackend(), info.name);
  });

  it('rejects an explicit tensorflow request that cannot load, and unknown names', async (t) => {
    if (await tensorflowLoads()) {
      t.skip('tfjs-node is installed here');
      return;
    }
    const before = backendInfo();
    await assert.rejects(initBackend('tensorflow'), /tensorflow.*unavailable.*tfjs-node/s);
    await assert.rejects(initBackend('gpu' as BackendName), /unknown backend/);
    assert.equal(backendInfo(), before, 'a failed call leaves the current backend in place');
  });

  it('a segment sum then its gradient runs on the selected backend', async () => {
    await initBackend('wasm');
    const g = tf.tidy(() =>
      tf
        .grad((x: tf.Tensor) => tf.sum(tf.square(tf.unsortedSegmentSum(x, tf.tensor1d([1, 1, 0], 'int32'), 2))))(
          tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]),
        )
        .dataSync(),
    );
    // Segment sums: s1 = [4, 6] (rows 0, 1), s0 = [5, 6]; d/dx = 2 s[id].
    assert.deepEqual(Array.from(g), [8, 12, 8, 12, 10, 12]);
  });
});
