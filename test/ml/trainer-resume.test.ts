import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { initBackend, type BackendName } from '../../src/ml/backend.js';
import type { ExpertWeights } from '../../src/ml/experts/expert-kind.js';
import { loadShippedExperts } from '../../src/ml/experts/registry.js';
import { serializeCheckpoint } from '../../src/ml/mixture/checkpoint.js';
import { CheckpointError } from '../../src/ml/mixture/envelope.js';
import type { MixtureConfig } from '../../src/ml/mixture/config.js';
import { trainMixture, TrainingAborted, type MixtureData, type TrainResult } from '../../src/ml/mixture/trainer.js';
import { readTaskRows } from '../../scripts/lib/tasks.js';
import { fixtureGraphs } from './fixture-graphs.js';

/** Model bytes compared by digest: a failing comparison of megabytes would not print in reasonable memory. */
const digest = (m: Parameters<typeof serializeCheckpoint>[0]) => createHash('sha256').update(serializeCheckpoint(m)).digest('hex');

await initBackend((process.env.TFJS_BACKEND as BackendName | undefined) ?? 'wasm');
const cgcnn = await loadShippedExperts('cgcnn');
const composition = await loadShippedExperts('composition');
const pick = (pool: ExpertWeights[], ...keys: string[]) => keys.map((k) => pool.find((e) => e.key === k)!);

/** 60 experimental band gaps from formulas: 40 train, 20 validation. */
function formulas(): MixtureData {
  const rows = readTaskRows('expt_bandgap').filter((_, i) => i % 20 === 0).slice(0, 60);
  const idx = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  return { inputs: rows.map((r) => ({ formula: r.formula })), targets: rows.map((r) => r.target), split: { train: idx(0, 40), val: idx(40, 60) } };
}

/** The 12 fixture crystals twice, with a made-up target. */
function crystals(): MixtureData {
  const inputs = [...fixtureGraphs, ...fixtureGraphs].map((graph) => ({ graph }));
  const targets = inputs.map(({ graph }, i) => graph.atomicNumbers.reduce((a, b) => a + b, 0) / graph.atomicNumbers.length / 10 + (i % 3) * 0.05);
  return { inputs, targets, split: { train: [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19], val: [8, 9, 20, 21], test: [10, 11, 22, 23] } };
}

/** What must not differ between a run and its interrupted-and-resumed twin (seconds excepted). */
function outcome(r: TrainResult) {
  return {
    model: digest(r.model),
    metrics: [r.bestEpoch, r.epochsRun, r.stoppedEarly, r.trainMae, r.valMae, r.testMae],
    history: r.history.map(({ seconds: _s, ...p }) => p),
  };
}

/** Trains until the `stopAt`-th checkpoint is saved, aborts there, and answers the state saved. */
async function interrupted(data: MixtureData, config: Partial<MixtureConfig>, experts: ExpertWeights[], every: number, stopAt: number, resume?: Uint8Array) {
  const ac = new AbortController();
  const saved: { epoch: number; bytes: Uint8Array }[] = [];
  const checkpoint = {
    everyEpochs: every,
    save(bytes: Uint8Array, at: { epoch: number }) {
      saved.push({ epoch: at.epoch, bytes });
      if (saved.length === stopAt) ac.abort();
    },
  };
  await assert.rejects(trainMixture(data, config, { experts, checkpoint, resume, signal: ac.signal }), TrainingAborted);
  return saved[saved.length - 1];
}

test('a composition mixture stopped after a checkpoint and resumed ends bit for bit as the run uninterrupted, early stop included', async () => {
  const data = formulas();
  const experts = pick(composition, 'comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap', 'comp_mp_e_form');
  const config: Partial<MixtureConfig> = { experts: experts.map((e) => e.key), k: 2, epochs: 20, batchSize: 16, seed: 5, gateInit: 'probe', loss: 'l1', patience: 3 };
  const whole = await trainMixture(data, config, { experts });
  assert.equal(whole.resumedFrom, null);
  assert.deepEqual([whole.stoppedEarly, whole.epochsRun, whole.bestEpoch], [true, 12, 7]);

  // Saving checkpoints changes nothing; no state is written at the last epoch (11, the early stop).
  const epochs: number[] = [];
  const checked = await trainMixture(data, config, { experts, checkpoint: { everyEpochs: 3, save: (_b, at) => void epochs.push(at.epoch) } });
  assert.deepEqual(epochs, [2, 5, 8]);
  assert.deepEqual(outcome(checked), outcome(whole));
  epochs.length = 0;
  await trainMixture(data, config, { experts, checkpoint: { everySeconds: 0, save: (_b, at) => void epochs.push(at.epoch) } });
  assert.deepEqual(epochs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await assert.rejects(trainMixture(data, config, { experts, checkpoint: { everyEpochs: 0, save: () => {} } }), /everyEpochs must be an integer ≥ 1/);

  // Stopped at epoch 5, resumed, stopped at epoch 8, resumed to the end: as the run uninterrupted.
  const first = await interrupted(data, config, experts, 3, 2);
  assert.equal(first.epoch, 5);
  const second = await interrupted(data, config, experts, 3, 1, first.bytes);
  assert.equal(second.epoch, 8);
  const resumedAt: number[] = [];
  const resumed = await trainMixture(data, config, { experts, resume: second.bytes, onResume: (at) => void resumedAt.push(at.epoch) });
  assert.deepEqual(resumedAt, [8]);
  assert.equal(resumed.resumedFrom, 8);
  assert.deepEqual(outcome(resumed), outcome(whole));
  // The seconds of a resumed run count on from those of the calls before.
  assert.ok(resumed.trainSeconds >= resumed.history[8].seconds);
  console.log(`composition state: ${first.bytes.byteLength} bytes`);
});

test('a crystal-graph mixture with fine-tuned convolutions and BatchNorm statistics resumes bit for bit', async () => {
  const data = crystals();
  const experts = [...pick(cgcnn, 'mp_eform', 'mp_gvrh'), ...pick(composition, 'comp_mp_e_form')];
  const config: Partial<MixtureConfig> = { experts: experts.map((e) => e.key), k: 2, epochs: 6, batchSize: 8, seed: 2, gateWarmup: 1, patience: 100 };
  const whole = await trainMixture(data, config, { experts });
  const stop = await interrupted(data, config, experts, 2, 1);
  assert.equal(stop.epoch, 1);
  const resumed = await trainMixture(data, config, { experts, resume: stop.bytes });
  assert.deepEqual(outcome(resumed), outcome(whole));
  console.log(`crystal-graph state: ${stop.bytes.byteLength} bytes`);
});

test('a state is refused by another run (seed, config, targets, experts) and when corrupted', async () => {
  const data = formulas();
  const experts = pick(composition, 'comp_mp_gap', 'comp_mp_e_form');
  const config: Partial<MixtureConfig> = { experts: experts.map((e) => e.key), k: 1, epochs: 4, batchSize: 16, seed: 1 };
  const { bytes } = await interrupted(data, config, experts, 1, 1);
  const incompatible = (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_incompatible' && /another run/.test(e.message);
  await assert.rejects(trainMixture(data, { ...config, seed: 2 }, { experts, resume: bytes }), incompatible);
  await assert.rejects(trainMixture(data, { ...config, lr: 0.02 }, { experts, resume: bytes }), incompatible);
  const moved = { ...data, targets: Array.from(data.targets, (t, i) => (i === 3 ? t + 1 : t)) };
  await assert.rejects(trainMixture(moved, config, { experts, resume: bytes }), incompatible);
  const other = pick(composition, 'comp_mp_gap', 'comp_jarvis3d_optb88vdw_gap');
  await assert.rejects(trainMixture(data, { ...config, experts: other.map((e) => e.key) }, { experts: other, resume: bytes }), incompatible);
  for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const bad = bytes.slice();
    bad[at] ^= 0x10;
    await assert.rejects(trainMixture(data, config, { experts, resume: bad }), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_checksum');
  }
  await assert.rejects(trainMixture(data, config, { experts, resume: serializeCheckpoint((await trainMixture(data, { ...config, epochs: 1 }, { experts })).model) }), (e: unknown) => e instanceof CheckpointError && e.code === 'checkpoint_malformed');
  // Resumed by its own run, it trains on.
  assert.equal((await trainMixture(data, config, { experts, resume: bytes })).resumedFrom, 0);
});
