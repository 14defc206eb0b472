// The token counts behind the Datasets histogram: the sample of a big dataset is random (not every
// k-th row, which a periodic generated dataset would alias), distinct, sorted and reproducible.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleIndices } from '../../native-runtime/training/token-lengths.ts';

test('sampleIndices: k distinct sorted indices in range, the same every time, not every k-th', () => {
  const s = sampleIndices(10_000, 1000);
  assert.equal(s.length, 1000);
  assert.equal(new Set(s).size, 1000);
  assert.ok(s.every((i, j) => i >= 0 && i < 10_000 && (j === 0 || s[j - 1] < i)));
  assert.deepEqual(sampleIndices(10_000, 1000), s);
  // A dataset with period 40 (rows repeat a pattern every 40): every phase is seen.
  assert.equal(new Set(s.map((i) => i % 40)).size, 40);
  assert.deepEqual(sampleIndices(5, 5), [0, 1, 2, 3, 4]);
});
