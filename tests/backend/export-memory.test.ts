// Exports stream what they write. A zip download was built whole in memory (every file read, then
// the zip, then written), and a bundle's data.jsonl as a Buffer per row plus their concatenation, so
// exporting a run over a big dataset took several times the dataset in memory (a 143 MB dataset's
// bundle zip peaked at 788 MB RSS; then 371 MB, most of it the parsed dataset, which the bundle now
// streams from the file too). Each case runs in a fresh process and measures how far its peak RSS
// grows, which must stay a fraction of what it writes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  truncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { zipFolderTo } from '../../electron/backend/library/transfers.ts';
import { unpackZip } from '../../electron/backend/library/unpack-zip.ts';
import { writeFully } from '../../native-runtime/formats/atomic-write.ts';
import { tempDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const root = tempDir('export-memory');
const MB = 1e6;

/**
 * Runs `setup` (imports: not counted), then `work`, in a fresh Node; returns how many bytes its peak
 * RSS grew during `work`.
 */
function peakGrowth(setup: string, work: string): number {
  const script = `${setup}\nconst base = process.resourceUsage().maxRSS;\n${work}\nconsole.log(JSON.stringify({ grew: (process.resourceUsage().maxRSS - base) * 1024 }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string).grew;
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c);
  return h.digest('hex');
}

test('a zip download streams: peak memory grows by a fraction of the folder, and the zip unpacks whole', async () => {
  const src = join(root, 'big');
  mkdirSync(src);
  const big = join(src, 'data.jsonl');
  const fd = openSync(big, 'w');
  let piece = '';
  for (let i = 0; i < 1_400_000; i++) {
    piece += `{"prompt": "Question ${i}: what is ${i} plus ${i}?", "completion": "It is ${2 * i}."}\n`;
    if (piece.length > 1 << 20) {
      writeFully(fd, Buffer.from(piece));
      piece = '';
    }
  }
  writeFully(fd, Buffer.from(piece));
  closeSync(fd);
  const size = statSync(big).size;
  assert.ok(size > 100 * MB, `${size} bytes`);
  const zip = join(root, 'big.zip');
  const grew = peakGrowth(
    `const { zipFolderTo } = await import(${JSON.stringify(join(ROOT, 'electron/backend/library/transfers.ts'))});`,
    `zipFolderTo(${JSON.stringify(src)}, 'x', ${JSON.stringify(zip)});`,
  );
  assert.ok(grew < size / 2, `peak RSS grew ${Math.round(grew / MB)} MB zipping ${Math.round(size / MB)} MB`);
  // The studio's own reader (data descriptors, CRC checked) gets the file back byte for byte.
  const out = join(root, 'unpacked');
  mkdirSync(out);
  await unpackZip({ zipPath: zip, dest: out, kind: 'dataset', label: 'big.zip' });
  assert.equal(await sha256(join(out, 'x', 'data.jsonl')), await sha256(big));
});

test("a run's bundle streams its dataset from the file into data.jsonl, never holding it", () => {
  // 20,000 rows of 8 KB each (160 MB): read whole first, the bundle grew the peak RSS by more than
  // the file (1M short rows, 120 MB: 273 MB); streamed, by a fraction of it. The garbage of reading
  // it grows the peak by 59–65 MB here, though nothing is kept (the heap after a GC: +1 MB): read
  // once (the rows judged as they are copied) as when it was read twice (62–64 MB), so not ¼.
  const data = join(root, 'run-data.jsonl');
  const fd = openSync(data, 'w');
  const prompt = 'p'.repeat(8000);
  for (let i = 0; i < 20_000; i++)
    writeFully(fd, Buffer.from(`${JSON.stringify({ prompt, completion: String(i) })}\n`));
  closeSync(fd);
  const size = statSync(data).size;
  const out = join(root, 'run-bundle');
  const grew = peakGrowth(
    `const { makeBundle } = await import(${JSON.stringify(join(ROOT, 'native-runtime/adapters/bundle.ts'))});`,
    `makeBundle({ config: { model: ${JSON.stringify(join(ROOT, 'tests/fixtures/golden/models/llama'))} }, data: ${JSON.stringify(data)}, out: ${JSON.stringify(out)} });`,
  );
  assert.equal(statSync(join(out, 'data.jsonl')).size, size, 'data.jsonl holds every row');
  assert.ok(
    grew < size / 2,
    `peak RSS grew ${Math.round(grew / MB)} MB bundling ${Math.round(size / MB)} MB`,
  );
});

test('a zip over 4 GB (no Zip64) is refused in one line before anything is written', () => {
  const src = join(root, 'huge');
  mkdirSync(src);
  // Sparse: takes no disk, but says 4.1 GB.
  const f = join(src, 'data.jsonl');
  closeSync(openSync(f, 'w'));
  truncateSync(f, 4.1e9);
  const dest = join(root, 'huge-out');
  mkdirSync(dest);
  assert.throws(() => zipFolderTo(src, 'x', join(dest, 'huge.zip')), {
    code: 'too-large',
    message: 'the export holds 4.1 GB, more than a zip download can (4.0 GB); export it to a folder instead',
  });
  assert.deepEqual(readdirSync(dest), [], 'no zip and no temp file is left');
});
