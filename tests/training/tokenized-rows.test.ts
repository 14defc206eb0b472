// A run's tokenized examples are packed (training/tokenized-rows.ts) and read as the file streams
// (data.ts readTokenizedDataset): memory grows by the tokens, not by per-row objects and texts,
// and the batches are those the examples' own id lists give.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readDataset, specialIds, tokenizeExample } from '../../native-runtime/training/data.ts';
import { TokenizedRows } from '../../native-runtime/training/tokenized-rows.ts';
import { buildBatch, prepareRun } from '../../native-runtime/training/trainer.ts';
import { llamaRun, tempDir, writeJsonl } from './helpers.ts';

test('packed examples read back as pushed, past the room they started with, and filter in order', () => {
  const rows = new TokenizedRows(2, 3);
  const given = Array.from({ length: 50 }, (_, i) => ({
    line: i + 1,
    ids: Array.from({ length: (i % 7) + 1 }, (_, t) => i * 100 + t),
    promptLen: (i % 3) + 1,
    truncated: i % 5 === 0,
  }));
  for (const g of given) rows.push(g);
  assert.equal(rows.length, 50);
  assert.equal(
    rows.tokenCount,
    given.reduce((s, g) => s + g.ids.length, 0),
  );
  const back = rows.slice(0, rows.length).map((r) => ({ ...r, ids: [...r.ids] }));
  assert.deepEqual(back, given);
  assert.equal(rows.longest(), 7);
  assert.equal(rows.truncatedCount(), 10);
  const odd = rows.filter((i) => i % 2 === 1);
  assert.deepEqual(
    odd.slice(0, odd.length).map((r) => r.line),
    given.filter((_, i) => i % 2 === 1).map((g) => g.line),
  );
  assert.deepEqual([...odd.at(0).ids], given[1].ids);
  assert.throws(() => rows.at(50), RangeError);
});

test("a run's batches are those of its examples tokenized one by one", async () => {
  const dir = tempDir('packed-batches-');
  const data = writeJsonl(
    join(dir, 'd.jsonl'),
    Array.from({ length: 9 }, (_, i) => ({
      prompt: `question ${i} ${'word '.repeat(i)}`,
      completion: `answer ${i}`,
    })),
  );
  const run = await prepareRun({ ...llamaRun(data, { chatTemplate: 'none' }), out: join(dir, 'out') });
  const { eosId } = specialIds(run.tokenizer, run.spec);
  const one = readDataset(data).examples.map((ex) =>
    tokenizeExample(run.tokenizer, ex, { maxLength: run.config.maxLength, chatTemplate: 'none', eosId }),
  );
  assert.equal(run.train.length, one.length);
  const packed = buildBatch(run.train.slice(0, 9), run.positions, run.untied, run.specs.length, run.padId);
  const plain = buildBatch(one, run.positions, run.untied, run.specs.length, run.padId);
  assert.deepEqual(packed, plain);
});

test('preparing a run of 100,000 short rows keeps their tokens packed, not an object per row', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  t.after(() => setFlagsFromString('--no-expose-gc'));
  const dir = tempDir('packed-memory-');
  const rowsOf = (n: number) => {
    const data = join(dir, `rows-${n}.jsonl`);
    const lines: string[] = [];
    // Few distinct words: the tokenizer's own cache of words seen stays small.
    for (let i = 0; i < n; i++)
      lines.push(JSON.stringify({ prompt: `question ${i % 100} about cats`, completion: 'yes' }));
    writeFileSync(data, `${lines.join('\n')}\n`);
    return data;
  };
  // The JavaScript heap only: per-row objects live there, the packed typed arrays' storage does
  // not (its size is the store's, 4 bytes a token; counting it here made the bound depend on when
  // V8 releases an outgrown buffer).
  const held = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  const prepare = (data: string) =>
    prepareRun({ ...llamaRun(data, { chatTemplate: 'none' }), out: join(dir, 'out') });
  // Each run holds its own tokenizer: a run of 10 rows is the baseline, so that only rows count.
  const small = await prepare(rowsOf(10));
  const before = held();
  const n = 100_000;
  const big = await prepare(rowsOf(n));
  const perRow = (held() - before) / n;
  assert.equal(small.train.length + big.train.length, 10 + n);
  // Objects per row (the texts, an id array each) held ~550 bytes of heap a row.
  t.diagnostic(`${perRow.toFixed(0)} bytes of heap held per row`);
  assert.ok(perRow < 50, `${perRow.toFixed(0)} bytes of heap held per row`);
});
