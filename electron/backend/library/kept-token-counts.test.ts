// Token counts kept for datasets/token-lengths are bounded by what they weigh (kept-token-counts.ts):
// six results of a million-row version kept ~100 MB when only their number was bounded.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TokenLengths } from '../../../native-runtime/training/token-lengths.ts';
import { KeptTokenCounts } from './kept-token-counts.ts';

/** A count of `rows` rows, every row counted (two numbers a row). */
function counts(rows: number): TokenLengths {
  const lengths = new Array<number>(rows).fill(10);
  return {
    lengths,
    promptLengths: lengths,
    indices: null,
    total: rows,
    chatTemplate: false,
    maxPositions: 2048,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

test('results are kept up to a weight, the least recently used dropped first', async () => {
  const kept = new KeptTokenCounts(5_000_000, 6);
  for (const key of ['a', 'b', 'c']) kept.keep(key, Promise.resolve(counts(1_000_000)));
  await settle();
  // Three results of 2M numbers each: only two fit in 5M.
  assert.equal(kept.size, 2);
  assert.equal(kept.numbers, 4_000_000);
  assert.equal(kept.get('a'), undefined);
  assert.ok(kept.get('b'));
  kept.keep('d', Promise.resolve(counts(1000)));
  await settle();
  assert.deepEqual([kept.get('c') !== undefined, kept.get('b') !== undefined], [true, true]);
  kept.keep('e', Promise.resolve(counts(1_000_000)));
  await settle();
  // 'd' was the least recently used ('c' and 'b' were read since).
  assert.equal(kept.get('d'), undefined);
  assert.ok(kept.numbers <= 5_000_000);
});

test('a result heavier than the bound alone answers its request but is not kept', async () => {
  const kept = new KeptTokenCounts(1_000_000, 6);
  const big = Promise.resolve(counts(600_000));
  kept.keep('big', big);
  assert.equal(kept.get('big'), big, 'a running count is shared meanwhile');
  await settle();
  assert.equal(kept.get('big'), undefined);
  assert.equal(kept.numbers, 0);
});

test('a failed count is dropped; a count kept again replaces the old one', async () => {
  const kept = new KeptTokenCounts();
  const failed = Promise.reject(new Error('no tokenizer'));
  kept.keep('x', failed);
  await failed.catch(() => {});
  await settle();
  assert.equal(kept.size, 0);
  kept.keep('y', Promise.resolve(counts(100)));
  kept.keep('y', Promise.resolve(counts(200)));
  await settle();
  assert.equal(kept.numbers, 400);
});

test("forget drops a deleted file's counts (keyed by its content hash), every model and sample", async () => {
  const kept = new KeptTokenCounts();
  for (const key of ['aa:model1:auto', 'aa:model2:none:100', 'aab:model1:auto'])
    kept.keep(key, Promise.resolve(counts(10)));
  await settle();
  kept.forget('aa');
  assert.equal(kept.get('aa:model1:auto'), undefined);
  assert.equal(kept.get('aa:model2:none:100'), undefined);
  assert.ok(kept.get('aab:model1:auto'), "another file's count stays");
  assert.equal(kept.numbers, 20);
});
