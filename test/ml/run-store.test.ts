import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { serializeCheckpoint } from '../../src/ml/mixture/checkpoint.js';
import { CheckpointError } from '../../src/ml/mixture/envelope.js';
import { TrainingAborted } from '../../src/ml/mixture/trainer.js';
import { childProcessRunner } from '../../src/ml/recipes/child-runner.js';
import { runTrainJob } from '../../src/ml/recipes/runner.js';
import { RunStoreError, type RunResumed, type RunStore } from '../../src/ml/recipes/run-store.js';
import { trainSplitEnsemble, type EnsembleOptions, type SplitData, type SplitEnsemble } from '../../src/ml/recipes/split-ensemble.js';
import { readTaskRows } from '../../scripts/lib/tasks.js';

/** Model bytes compared by digest: a failing comparison of megabytes would not print in reasonable memory. */
const digest = (m: Parameters<typeof serializeCheckpoint>[0]) => createHash('sha256').update(serializeCheckpoint(m)).digest('hex');

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const composition = (await loadShippedExperts('composition')).filter((e) => ['comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap', 'comp_mp_e_form'].includes(e.key));

/** 80 experimental band gaps from formulas: 60 train, 20 validation. */
const rows = readTaskRows('expt_bandgap').filter((_, i) => i % 20 === 0).slice(0, 80);
const inputs = rows.map((r) => ({ formula: r.formula }));
const targets = Float64Array.from(rows, (r) => r.target);
const idx = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const split = { train: idx(0, 60), val: idx(60, 80) };

/** A store in memory that counts what it is asked. */
function memoryStore() {
  const runs = new Map<string, { done: boolean; bytes: Uint8Array }>();
  const store: RunStore & { runs: typeof runs; saves: number } = {
    runs,
    saves: 0,
    async load(key) {
      const r = runs.get(key);
      return r ? { done: r.done, bytes: r.bytes.slice() } : null;
    },
    async save(key, bytes, done) {
      store.saves++;
      runs.set(key, { done, bytes: bytes.slice() });
    },
  };
  return store;
}

test('a job trained in a child process checkpoints to the parent and resumes in a child as if never stopped', async () => {
  const d = { id: 'gaps', inputs, targets, experts: composition };
  const job = { config: { experts: composition.map((e) => e.key), k: 2, epochs: 5, batchSize: 16, seed: 5 }, split };
  const here = await runTrainJob(d, job);
  const runner = childProcessRunner({ parallel: 1 });
  try {
    runner.addDataset(d);
    const ac = new AbortController();
    const saved: { epoch: number; bytes: Uint8Array }[] = [];
    const save = (bytes: Uint8Array, at: { epoch: number }) => {
      saved.push({ epoch: at.epoch, bytes });
      ac.abort();
    };
    await assert.rejects(runner.run({ dataset: 'gaps', ...job, signal: ac.signal, checkpoint: { everyEpochs: 2, save } }), TrainingAborted);
    assert.deepEqual(saved.map((s) => s.epoch), [1]);
    const resumedAt: number[] = [];
    const there = await runner.run({ dataset: 'gaps', ...job, resume: saved[0].bytes, onResume: (at) => void resumedAt.push(at.epoch) });
    assert.deepEqual(resumedAt, [1]);
    assert.deepEqual(digest(there.model), digest(here.model));
    assert.deepEqual([there.valRaw, there.valMae, there.epochsRun], [here.valRaw, here.valMae, here.epochsRun]);
    // A state the job cannot continue is refused as a CheckpointError, here as in the child; a failed save fails the job.
    await assert.rejects(runner.run({ dataset: 'gaps', ...job, config: { ...job.config, seed: 6 }, resume: saved[0].bytes }), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_incompatible');
    const failing = { everyEpochs: 1, save: () => Promise.reject(new Error('disk full')) };
    await assert.rejects(runner.run({ dataset: 'gaps', ...job, checkpoint: failing }), /disk full/);
  } finally {
    await runner.close();
  }
});

const base: EnsembleOptions = { basis: 'composition', experts: { cgcnn: [], composition }, members: 2, protocol: { epochs: 6, patience: 100, k: 2 }, extra: { batchSize: 32 }, seed: 3, group: 3 };
const data: SplitData = { inputs, targets, split };

/** What an interrupted and resumed ensemble must share with the uninterrupted one. */
function outcome(e: SplitEnsemble) {
  return {
    chosen: e.chosen.name,
    candidates: e.candidates.map((c) => [c.recipe.name, c.round, c.valMae, c.trainMae, c.bestEpoch, c.epochsRun, c.valRaw, digest(c.model)]),
    skipped: e.skipped,
    members: e.members.map(digest),
    memberValRaw: e.memberValRaw,
    calibration: e.calibration,
    calibrationSet: e.calibrationSet,
  };
}

test('a split ensemble stopped mid-run and called again with its store finishes as the uninterrupted one, without retraining finished runs', async () => {
  let epochs = 0;
  const whole = await trainSplitEnsemble(data, { ...base, onEpoch: () => void epochs++ });
  const total = epochs;
  const runs = whole.candidates.length + whole.members.length - 1;
  assert.equal(total, 6 * runs);

  // Stopped in the second run's epoch 3; it has saved its state after epochs 1 and 3, the first run its result.
  const store = memoryStore();
  const ac = new AbortController();
  epochs = 0;
  const checkpoints = { checkpoints: store, checkpointEvery: { epochs: 2 } };
  const stop = (): void => void (++epochs === 10 && ac.abort());
  await assert.rejects(trainSplitEnsemble(data, { ...base, ...checkpoints, signal: ac.signal, onEpoch: stop }), TrainingAborted);
  const first = `composition/g3/${whole.candidates[0].recipe.name}/seed3`;
  const second = `composition/g3/${whole.candidates[1].recipe.name}/seed3`;
  assert.deepEqual([...store.runs].map(([k, r]) => [k, r.done]), [[first, true], [second, false]]);

  // Again, in two child processes: the first run is taken as stored, the second continues after epoch 3.
  const resumed: RunResumed[] = [];
  epochs = 0;
  const runner = childProcessRunner({ parallel: 2 });
  let again: SplitEnsemble;
  try {
    again = await trainSplitEnsemble(data, { ...base, ...checkpoints, runner, onEpoch: () => void epochs++, onResume: (r) => void resumed.push(r) });
  } finally {
    await runner.close();
  }
  assert.deepEqual(resumed, [{ key: first, kind: 'done' }, { key: second, kind: 'resumed', epoch: 3 }]);
  assert.equal(epochs, total - 6 - 4);
  assert.deepEqual(outcome(again), outcome(whole));
  assert.equal([...store.runs.values()].filter((r) => r.done).length, runs);

  // A third call trains nothing; one on other data finds nothing it may reuse and trains everything.
  epochs = 0;
  const kinds: string[] = [];
  const third = await trainSplitEnsemble(data, { ...base, ...checkpoints, onEpoch: () => void epochs++, onResume: (r) => void kinds.push(r.kind) });
  assert.equal(epochs, 0);
  assert.deepEqual(kinds, Array(runs).fill('done'));
  assert.deepEqual(outcome(third), outcome(whole));
  const moved = Float64Array.from(targets, (y, i) => (i === split.train[0] ? y + 1 : y));
  kinds.length = 0;
  await trainSplitEnsemble({ ...data, targets: moved }, { ...base, ...checkpoints, onEpoch: () => void epochs++, onResume: (r) => void kinds.push(r.kind) });
  assert.ok(epochs >= total - 6 && kinds.length > 0 && kinds.every((k) => k === 'discarded'), `${epochs} epochs, ${kinds}`);
});

test('a store that fails fails the ensemble instead of passing its run over', async () => {
  const failing = (on: 'load' | 'save'): RunStore => ({
    load: async () => (on === 'load' ? Promise.reject(new Error('connection lost')) : null),
    save: async () => Promise.reject(new Error('disk full')),
  });
  const opts = { ...base, members: 1, recipe: 'paper' as const, checkpointEvery: { epochs: 1 } };
  await assert.rejects(trainSplitEnsemble(data, { ...opts, checkpoints: failing('load') }), (e: unknown) => e instanceof RunStoreError && /connection lost/.test(e.message));
  await assert.rejects(trainSplitEnsemble(data, { ...opts, checkpoints: failing('save') }), (e: unknown) => e instanceof RunStoreError && /disk full/.test(e.message));
});
