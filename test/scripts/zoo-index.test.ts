import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { updateCard, upsertCard, type ZooCard } from '../../scripts/lib/zoo-card.js';

const card = (name: string, sha256: string, extra: Partial<ZooCard> = {}) => ({ name, sha256, file: `${name}.matmoe`, ...extra }) as unknown as ZooCard;

test('the models index: a card is added or replaced by name, and a later field only lands on the weights it was computed for', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zoo-index-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'index.json');
  await upsertCard(path, card('b', 'sha-b1'));
  await upsertCard(path, card('a', 'sha-a1'));
  await upsertCard(path, card('b', 'sha-b2'));
  const read = async () => JSON.parse(await readFile(path, 'utf8')) as ZooCard[];
  assert.deepEqual((await read()).map((c) => [c.name, c.sha256]), [['a', 'sha-a1'], ['b', 'sha-b2']]);

  // A blend computed on b's old weights does not land on its new card; one computed on the new weights does.
  const before = await readFile(path, 'utf8');
  assert.equal(await updateCard(path, 'b', 'sha-b1', (c) => ({ ...c, property: 'stale' })), false);
  assert.equal(await readFile(path, 'utf8'), before);
  assert.equal(await updateCard(path, 'b', 'sha-b2', (c) => ({ ...c, property: 'fresh' })), true);
  assert.deepEqual((await read()).map((c) => c.property ?? null), [null, 'fresh']);
  assert.equal(await updateCard(path, 'c', 'sha-c', (c) => c), false);
  // Written through a temporary file that is renamed over the index: none is left behind.
  assert.deepEqual(await readdir(dir), ['index.json']);
});
