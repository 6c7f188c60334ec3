import assert from 'node:assert/strict';
import { test } from 'node:test';
import { npmCommand, parseIndexRange } from '../../scripts/lib/run-info.js';

test('index ranges: single, span, list; bad text refused', () => {
  assert.deepEqual(parseIndexRange('3'), [3]);
  assert.deepEqual(parseIndexRange('0-4'), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseIndexRange('0,2-3'), [0, 2, 3]);
  assert.throws(() => parseIndexRange('a-b'), RangeError);
});

test('the recorded command drops the npm separator', () => {
  assert.equal(npmCommand('bench:matbench', []), 'npm run bench:matbench');
  assert.equal(npmCommand('bench:matbench', ['--', '--seeds', '0-4']), 'npm run bench:matbench -- --seeds 0-4');
});
