import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIdleCollector } from '../../src/util/idle-gc.js';

/** What a large request holds while it runs (and leaves as garbage): ~30 MB of small objects. */
const work = () => Array.from({ length: 40 }, () => Array.from({ length: 20_000 }, (_, j) => ({ j, s: `k${j}` })));

test('the idle collector frees a burst\'s garbage once work has ended, never while work is in progress', async (t) => {
  const freed: number[] = [];
  const collector = startIdleCollector({ idleMs: 20, minGrowthBytes: 8 * 2 ** 20, onCollect: (b) => freed.push(b) });
  t.after(() => collector.stop());
  collector.begin();
  let held: unknown[] | null = work();
  await sleep(300); // 15 checks while busy
  assert.deepEqual(freed, []);
  assert.equal(held.length, 40);
  held = null;
  collector.end();
  for (let i = 0; i < 100 && freed.length === 0; i++) await sleep(20);
  assert.equal(freed.length, 1);
  assert.ok(freed[0] > 8 * 2 ** 20, `freed ${freed[0]} bytes`);
  // Nothing new to free: no further collection.
  await sleep(200);
  assert.equal(freed.length, 1);
});
