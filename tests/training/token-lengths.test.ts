// The token counts behind the Datasets histogram: the sample of a big dataset is random (not every
// k-th row, which a periodic generated dataset would alias), distinct, sorted and reproducible; the
// file is streamed, never held whole.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { sampleIndices, tokenLengths } from '../../native-runtime/training/token-lengths.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from './helpers.ts';

const MODULE = new URL('../../native-runtime/training/token-lengths.ts', import.meta.url).pathname;

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

function rowsFile(n: number): string {
  const file = join(tempDir('token-lengths-'), `rows-${n}.jsonl`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify({ prompt: `question ${i} about cats`, completion: `answer ${i % 9}` }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

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
