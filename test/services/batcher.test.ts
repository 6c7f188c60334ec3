import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../../src/services/inference/batcher.js';

/** A runBatch whose batches finish when the test says so; it answers each group with its inputs doubled. */
function controlled() {
  const running: { key: string; groups: number[][]; finish(): void }[] = [];
  const run = (key: string, groups: number[][]) =>
    new Promise<number[][]>((resolve) => running.push({ key, groups, finish: () => resolve(groups.map((g) => g.map((x) => 2 * x))) }));
  return { running, run };
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('batches wait for a free slot and grow meanwhile; every caller gets its own answer, in order', async () => {
  const { running, run } = controlled();
  const b = new Batcher<number, number[]>(run, { maxBatch: 100, maxWaitMs: 1, maxInFlight: 2 });
  const answers: Promise<number[]>[] = [];
  answers.push(b.submit('m', [1]));
  await tick();
  answers.push(b.submit('m', [2]));
  await tick();
  assert.equal(running.length, 2); // two slots, two batches of one request
  // While both run, ten requests arrive: they wait as one growing batch, not ten queued ones.
  for (let i = 3; i <= 12; i++) answers.push(b.submit('m', [i, -i]));
  await tick();
  assert.equal(running.length, 2);
  assert.equal(b.pendingInputs, 20);
  running[0].finish();
  await tick();
  assert.equal(running.length, 3);
  assert.equal(running[2].groups.length, 10);
  assert.equal(b.pendingInputs, 0);
  running[1].finish();
  running[2].finish();
  assert.deepEqual(await Promise.all(answers), [[2], [4], ...Array.from({ length: 10 }, (_, k) => [2 * (k + 3), -2 * (k + 3)])]);
  assert.deepEqual(b.stats, { batches: 3, requests: 12 });
});

test('a full batch still goes at once when a slot is free; over maxBatch the rest waits for the next slot; a failed batch fails only its callers', async () => {
  const { running, run } = controlled();
  const b = new Batcher<number, number[]>(run, { maxBatch: 4, maxWaitMs: 1000, maxInFlight: 1 });
  const first = b.submit('m', [1, 2, 3, 4]); // full: no 1 s wait
  await tick();
  assert.equal(running.length, 1);
  const second = b.submit('m', [5, 6, 7]);
  const third = b.submit('m', [8, 9]); // 5 inputs waiting: over maxBatch, goes in two batches
  const other = b.submit('x', [10, 11, 12, 13]);
  await tick();
  assert.equal(running.length, 1);
  running[0].finish();
  assert.deepEqual(await first, [2, 4, 6, 8]);
  await tick();
  assert.equal(running.length, 2);
  assert.deepEqual(running[1].groups, [[5, 6, 7]]);
  running[1].finish();
  await tick();
  assert.deepEqual(running[2].groups, [[8, 9]]);
  running[2].finish();
  await tick();
  assert.equal(running[3].key, 'x');
  running[3].finish();
  assert.deepEqual(await Promise.all([second, third, other]), [[10, 12, 14], [16, 18], [20, 22, 24, 26]]);

  const failing = new Batcher<number, number>(async (_key, groups) => {
    if (groups.flat().includes(0)) throw new Error('bad batch');
    return groups.map((g) => g.length);
  }, { maxBatch: 2, maxWaitMs: 1, maxInFlight: 1 });
  const results = await Promise.allSettled([failing.submit('m', [0, 1]), failing.submit('m', [1])]);
  assert.equal(results[0].status, 'rejected');
  assert.deepEqual(results[1], { status: 'fulfilled', value: 1 });
});
