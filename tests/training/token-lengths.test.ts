// The token counts behind the Datasets histogram: the sample of a big dataset is random (not every
// k-th row, which a periodic generated dataset would alias), distinct, sorted and reproducible; the
// file is streamed, never held whole.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CompletionCounts,
  sampleIndices,
  tokenLengths,
} from '../../native-runtime/training/token-lengths.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from './helpers.ts';

const MODULE = fileURLToPath(new URL('../../native-runtime/training/token-lengths.ts', import.meta.url));

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

test('completion counts: repeats are encoded once; what is kept stays under its bound (LRU)', () => {
  const kept = new CompletionCounts(10_000);
  let encoded = 0;
  const encode = (t: string) => {
    encoded++;
    return t.length;
  };
  const answer = (i: number) => `answer ${i} `.padEnd(100, '.');
  // Unbounded, all 1,000 distinct completions stayed (a million-row version's answers: hundreds of MB).
  for (let i = 0; i < 1000; i++) assert.equal(kept.count(answer(i), encode), 100);
  assert.equal(encoded, 1000);
  assert.ok(kept.weight <= 10_000, `kept ${kept.weight}`);
  assert.equal(kept.size, Math.floor(10_000 / (100 + CompletionCounts.ENTRY_WEIGHT)));
  // The most recent are kept; the oldest were dropped and are encoded again.
  kept.count(answer(999), encode);
  assert.equal(encoded, 1000);
  kept.count(answer(0), encode);
  assert.equal(encoded, 1001);
  // A completion used again is kept longest: answer(999) outlives the ones added after it, but for
  // the room they need.
  kept.count(answer(999), encode);
  for (let i = 1000; i < 1000 + kept.size - 1; i++) kept.count(answer(i), encode);
  const before = encoded;
  kept.count(answer(999), encode);
  assert.equal(encoded, before);
  // A long completion is counted, never kept.
  const long = 'x'.repeat(CompletionCounts.LONGEST_KEPT + 1);
  kept.count(long, encode);
  kept.count(long, encode);
  assert.equal(encoded, before + 2);
  assert.ok(kept.weight <= 10_000);
});

function rowsFile(n: number): string {
  const file = join(tempDir('token-lengths-'), `rows-${n}.jsonl`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify({ prompt: `question ${i} about cats`, completion: `answer ${i % 9}` }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test('counts follow a chat template edited since the model folder was kept', () => {
  // The kept folder was keyed by tokenizer.json's mtime only: the histogram went on counting the
  // old template's tokens.
  const model = join(tempDir('token-lengths-template-'), 'llama');
  cpSync(modelDir('llama'), model, { recursive: true });
  const data = rowsFile(3);
  const before = tokenLengths({ model, data }).lengths;
  // Ten more characters around every message than the fixture's template writes.
  writeFileSync(
    join(model, 'chat_template.jinja'),
    readFileSync(join(model, 'chat_template.jinja'), 'utf8').replace(
      "{{ m['content'] }}",
      "{{ m['content'] }} ooooooooooooooooooooooooooooooo",
    ),
  );
  const after = tokenLengths({ model, data }).lengths;
  assert.ok(
    after.every((n, i) => n > (before[i] ?? Infinity)),
    `${before} -> ${after}`,
  );
});

test('a sample is the same whether the row count is given or counted; a wrong count is refused', () => {
  const data = rowsFile(500);
  const model = modelDir('llama');
  const counted = tokenLengths({ model, data, sample: 50 });
  assert.equal(counted.total, 500);
  assert.equal(counted.lengths.length, 50);
  assert.deepEqual(counted.indices, sampleIndices(500, 50));
  assert.deepEqual(tokenLengths({ model, data, sample: 50, examples: 500 }), counted);
  const all = tokenLengths({ model, data });
  assert.deepEqual(
    counted.lengths,
    counted.indices?.map((i) => all.lengths[i]),
  );
  assert.throws(() => tokenLengths({ model, data, sample: 50, examples: 501 }), {
    code: 'bad-data',
    message: `${data}: holds 500 examples, not the 501 expected`,
  });
});

test('a sample of 600,000 rows is counted in a 48 MB heap (the rows held as texts needed more)', () => {
  const data = rowsFile(600_000);
  const script = `import { tokenLengths } from ${JSON.stringify(pathToFileURL(MODULE).href)};
const r = tokenLengths({ model: ${JSON.stringify(modelDir('llama'))}, data: ${JSON.stringify(data)}, sample: 100 });
console.log(JSON.stringify([r.total, r.lengths.length]));`;
  const r = spawnSync(
    process.execPath,
    ['--max-old-space-size=48', '--import', 'tsx', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(r.status, 0, r.stderr.slice(0, 500));
  assert.deepEqual(JSON.parse(r.stdout), [600_000, 100]);
});
