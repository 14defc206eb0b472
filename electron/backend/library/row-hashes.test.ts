// Row ids a new version inherits, as the compact row hashes (typed arrays, not strings) give them:
// by content and occurrence, sources in order, no id twice; contents whose hashes share the word
// that places them in the lookup table still told apart.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { writeFrozenFile } from './frozen-files.ts';
import {
  frozenRowHashes,
  inheritingRowIds,
  inheritRowIds,
  type RowHashes,
  rowHash,
  rowHashAt,
} from './row-hashes.ts';

const root = tempDir('reft-annotations-');
const row = (p: string) => ({ prompt: p, completion: 'ok' });

/** The row hashes of `prompts` as a frozen file of those rows gives them. */
function hashesOf(prompts: string[]): RowHashes {
  const f = writeFrozenFile(root, (w) => {
    for (const p of prompts) w.write(row(p));
  });
  return frozenRowHashes(join(root, f.rel));
}

test('frozen row hashes spell each row as rowHash does', () => {
  const h = hashesOf(['a', 'b', 'a']);
  assert.equal(h.count, 3);
  assert.deepEqual(
    [0, 1, 2].map((i) => rowHashAt(h, i)),
    ['a', 'b', 'a'].map((p) => rowHash(row(p))),
  );
});

test('the k-th copy of a row takes the k-th id of that content; new rows get none', () => {
  const old = { hashes: hashesOf(['a', 'b', 'a', 'c']), ids: [10, 11, 12, 13] };
  assert.deepEqual(inheritRowIds(hashesOf(['a', 'new', 'a', 'a', 'c'])), [null, null, null, null, null]);
  assert.deepEqual(inheritRowIds(hashesOf(['a', 'new', 'a', 'a', 'c']), old), [10, null, 12, null, 13]);
});

test('later sources fill only rows still without an id, never with an id already given', () => {
  // Ids at the edges of the used-id bitmap's words (31, 32, 63).
  const latest = { hashes: hashesOf(['a', 'b']), ids: [31, 32] };
  // An older version had 'a' twice (ids 31 and 63) and 'd' under an id the latest gave to 'b'.
  const older = { hashes: hashesOf(['a', 'a', 'd']), ids: [31, 63, 32] };
  assert.deepEqual(inheritRowIds(hashesOf(['a', 'a', 'b', 'd']), latest, older), [31, 63, 32, null]);
});

test('contents whose hashes share their first word are told apart', () => {
  // Hand-made hashes: the lookup table places rows by the first word only.
  const words = (rows: number[][]): RowHashes => ({
    count: rows.length,
    words: Uint32Array.from(rows.flat()),
  });
  const old = {
    hashes: words([
      [7, 1, 1, 1],
      [7, 1, 1, 2],
      [7, 2, 1, 1],
      [7, 1, 1, 1],
    ]),
    ids: [5, 6, 7, 8],
  };
  assert.deepEqual(
    inheritRowIds(
      words([
        [7, 2, 1, 1],
        [7, 1, 1, 1],
        [7, 9, 9, 9],
        [7, 1, 1, 1],
        [7, 1, 1, 1],
        [7, 1, 1, 2],
      ]),
      old,
    ),
    [7, 5, null, 8, null, 6],
  );
});

test('matching a big version pauses every few thousand rows, and gives what matching at once gives', () => {
  // Bug: a re-import of 200,000 rows was matched against its dataset's versions in one go on the RPC
  // loop (160 ms, 0.5-1.3 s on a busy machine); the studio now runs inheritingRowIds in slices.
  const n = 50_000;
  const random = (seed: number): RowHashes => {
    const words = new Uint32Array(4 * n);
    let x = seed;
    for (let k = 0; k < words.length; k++) words[k] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return { count: n, words };
  };
  const old = random(1);
  // The new version: the old rows, one in three replaced by new ones.
  const mine = { count: n, words: old.words.slice() };
  const fresh = random(2);
  for (let i = 0; i < n; i += 3) mine.words.set(fresh.words.subarray(4 * i, 4 * i + 4), 4 * i);
  const ids = Array.from({ length: n }, (_, i) => 100 + i);
  const scan = inheritingRowIds(mine, { hashes: old, ids });
  let pauses = 0;
  let step = scan.next();
  for (; !step.done; step = scan.next()) pauses++;
  // At least one pause per 4096 rows, building the table of the old rows and matching the new ones.
  assert.ok(pauses >= 2 * Math.floor(n / 4096), `${pauses} pauses`);
  assert.deepEqual(step.value, inheritRowIds(mine, { hashes: old, ids }));
  assert.equal(step.value.filter((id) => id === null).length, Math.ceil(n / 3));
  assert.deepEqual(step.value.slice(0, 4), [null, 101, 102, null]);
});
