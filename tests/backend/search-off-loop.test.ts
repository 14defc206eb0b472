// Paging through a big version leaves the RPC loop free: the first page of a version builds its row
// index (a pass over the file), a text search's first page scans every row, and on the loop those
// held every window for ~1 s and ~2.1 s at a million rows. Both scans now run in time slices; their
// results are kept, so the next pages read only their rows.
// (The same pattern for the engine's long operations: busy-loop.test.ts.)
// In-process host, real SQLite file, a version big enough that its scan takes several slices.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, tempDir, whileBusy } from './helpers.ts';

const root = tempDir('search-off-loop');
const ROWS = 50_000;
let b: Backend;
let datasetId: number;
const { call } = inProcess(() => b);

const row = (i: number) => ({
  prompt: `Question ${i}: where does the ship sail after port ${i % 97}?`,
  completion: `To the island of ${i % 1000} and then home.`,
});
/** The rows whose text holds "island of 7 " (rows 7, 1007, 2007, …). */
const matching = Array.from({ length: ROWS / 1000 }, (_, k) => k * 1000 + 7);

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false, watchHubCache: false });
  const file = join(root, 'voyages.jsonl');
  writeFileSync(file, `${Array.from({ length: ROWS }, (_, i) => JSON.stringify(row(i))).join('\n')}\n`);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

test("a version's first page (its row index built) leaves the loop free", async () => {
  const { order, result } = await whileBusy(call, 'datasets/rows', { datasetId, offset: 30_000, limit: 5 });
  assert.deepEqual(order, ['datasets/list', 'datasets/rows']);
  const page = result as { total: number; rows: unknown[] };
  assert.equal(page.total, ROWS);
  assert.deepEqual(page.rows, [30_000, 30_001, 30_002, 30_003, 30_004].map(row));
});

test("a search's first page leaves the loop free; its next pages use the matches kept", async () => {
  const search = 'ISLAND of 7 ';
  const { order, result } = await whileBusy(call, 'datasets/rows', { datasetId, search, limit: 20 });
  assert.deepEqual(order, ['datasets/list', 'datasets/rows']);
  const first = result as { total: number; meta: { index: number }[] };
  assert.equal(first.total, matching.length);
  assert.deepEqual(
    first.meta.map((m) => m.index),
    matching.slice(0, 20),
  );
  const next = await call('datasets/rows', { datasetId, search, offset: 45, limit: 20 });
  assert.equal(next.total, matching.length);
  assert.deepEqual(next.rows, matching.slice(45).map(row));
});

test('blocks asked for at once during a search get the same matches', async () => {
  const search = 'port 13?';
  const pages = await Promise.all(
    [0, 200, 400].map((offset) => call('datasets/rows', { datasetId, search, offset, limit: 200 })),
  );
  const want = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 97 === 13);
  for (const [k, page] of pages.entries()) {
    assert.equal(page.total, want.length);
    assert.deepEqual(
      page.meta.map((m: { index: number }) => m.index),
      want.slice(k * 200, k * 200 + 200),
    );
  }
});
