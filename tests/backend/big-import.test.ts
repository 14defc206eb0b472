// A big JSONL import must not stop the backend answering everyone else, nor hold the file in memory:
// it was read whole, parsed whole and hashed whole on the event loop (a 200 MB file blocked every
// client for ~4 s at 1.7 GB). Now it streams: here a ~40 MB file is imported over RPC (in-process
// host, real SQLite file) while other requests are answered first, what the heap holds grows by a
// fraction of the file, and the frozen version is exactly what importing the same rows whole gives.

import assert from 'node:assert/strict';
import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { parseDataset } from '../../electron/backend/library/dataset-formats.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('big-import');
const big = join(root, 'big.jsonl');
const ROWS = 200_000;
let b: Backend;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let nextId = 1;

const row = (i: number) =>
  JSON.stringify({
    prompt: `Question ${i}: what is ${i} plus ${i}? Explain the steps, briefly and clearly.`,
    completion: `It is ${2 * i}: adding ${i} to itself doubles it, and doubling ${i} gives ${2 * i}.`,
  });

before(async () => {
  const out = createWriteStream(big);
  for (let i = 0; i < ROWS; i++) {
    // A few bad lines among the good ones, reported by line.
    const line = i % 50_000 === 7 ? '{"prompt": "no completion"}' : row(i);
    if (!out.write(`${line}\n`)) await new Promise((r) => out.once('drain', () => r(null)));
  }
  await new Promise<void>((r) => out.end(() => r()));
  b = createBackend(join(root, 'data'), { seedDemo: false });
});
after(() => b.close());

test('a 40 MB JSONL import streams: others are answered meanwhile, memory stays bounded', {
  timeout: 300_000,
}, async () => {
  const size = statSync(big).size;
  assert.ok(size > 35e6, `${size} bytes`);
  // What the import holds on to (not garbage it has not collected yet): sampled after a full GC.
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  let heapPeak = heap0;
  const sampler = setInterval(() => {
    gc();
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 400);
  const order: string[] = [];
  const importing = b
    .handle({ type: 'request', id: nextId++, method: 'datasets/import', params: { path: big } })
    .then((r) => {
      order.push('import');
      return r;
    });
  // Other clients' requests arrive once the import is under way (a later turn of the event loop).
  const others = new Promise<void>((next) => setImmediate(next)).then(() =>
    Promise.all(
      ['settings/get', 'models/list', 'system/info'].map((method) =>
        b.handle({ type: 'request', id: nextId++, method, params: {} }).then((r) => {
          order.push(method);
          assert.equal(r.type, 'reply', JSON.stringify(r));
        }),
      ),
    ),
  );
  const [r] = await Promise.all([importing, others]);
  clearInterval(sampler);
  assert.equal(r.type, 'reply', JSON.stringify(r));
  assert.equal(order.at(-1), 'import', `the other requests were answered during the import: ${order}`);
  const result = (r as { result: { version: { rowCount: number; rejectedCount: number; filePath: string } } })
    .result;
  assert.equal(result.version.rowCount, ROWS - 4);
  assert.equal(result.version.rejectedCount, 4);
  const grown = heapPeak - heap0;
  assert.ok(
    grown < size / 2,
    `the heap grew by ${(grown / 1e6).toFixed(0)} MB for a ${(size / 1e6).toFixed(0)} MB file`,
  );

  // The streamed file is byte for byte what normalising the whole text gives.
  const whole = parseDataset('big.jsonl', readFileSync(big, 'utf8'));
  const expected = `${whole.rows.map((x) => JSON.stringify(x)).join('\n')}\n`;
  assert.equal(readFileSync(result.version.filePath, 'utf8'), expected);
  assert.deepEqual(
    whole.bad.map((x) => x.line),
    [8, 50_008, 100_008, 150_008],
  );
});

test('a file of another kind than its name says, a BOM, CRLF lines and blank lines', async () => {
  const f = join(root, 'crlf.txt');
  writeFileSync(f, `\uFEFF${row(1)}\r\n\r\n${row(2)}\r\n`);
  const r = await b.handle({ type: 'request', id: nextId++, method: 'datasets/import', params: { path: f } });
  assert.equal(r.type, 'reply', JSON.stringify(r));
  const v = (r as { result: { version: { rowCount: number; filePath: string } } }).result.version;
  assert.equal(v.rowCount, 2);
  assert.deepEqual(
    readFileSync(v.filePath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).prompt),
    [JSON.parse(row(1)).prompt, JSON.parse(row(2)).prompt],
  );
});
