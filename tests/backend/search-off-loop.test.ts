// Paging through a big version leaves the RPC loop free: the first page of a version builds its row
// index (a pass over the file), a text search's first page scans every row, and on the loop those
// held every window for ~1 s and ~2.1 s at a million rows. Both scans now run in time slices; their
// results are kept, so the next pages read only their rows. The Train wizard's example (runs/preview)
// reads its row through the same index, built the same way. An edit or a split copies the rows in
// slices, reading its version's row ids as it goes; a split's seeded shuffle runs in slices before it.
// An annotation decodes only the ids of the rows it annotates.
// (The same pattern for the engine's long operations: busy-loop.test.ts.)
// In-process host, real SQLite file, a version big enough that its scan takes several slices.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { datasetRows } from '../../electron/backend/library/dataset-rows.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, whileBusy } from './helpers.ts';

const root = tempDir('search-off-loop');
const ROWS = 50_000;
let b: Backend;
let datasetId: number;
let modelId: number;
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
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
});
after(() => b.close());

/** The most that `count()` grew in one turn of the event loop while `work` ran, and its result. */
async function mostInOneTurn<T>(
  count: () => number,
  work: () => Promise<T>,
): Promise<{ most: number; result: T }> {
  let most = 0;
  let done = false;
  const turns = (async () => {
    while (!done) {
      const before = count();
      await new Promise((r) => setImmediate(r));
      most = Math.max(most, count() - before);
    }
  })();
  const result = await work();
  done = true;
  await turns;
  return { most, result };
}

/**
 * Runs `work` with every row id read (Buffer#readUInt32LE, one an id) counted by `reads()` and made
 * to take `slowMs`.
 */
async function withIdReadsCounted<T>(slowMs: number, work: (reads: () => number) => Promise<T>): Promise<T> {
  const readId = Buffer.prototype.readUInt32LE;
  let reads = 0;
  Buffer.prototype.readUInt32LE = function (this: Buffer, offset?: number) {
    reads++;
    const until = performance.now() + slowMs;
    while (performance.now() < until);
    return readId.call(this, offset);
  };
  try {
    return await work(() => reads);
  } finally {
    Buffer.prototype.readUInt32LE = readId;
  }
}

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

test('a filter by tag and rating reads the filter once and skips rows without annotations', async () => {
  // Every row but one in 1000 tagged and rated: the filter tries each annotation.
  const noted = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 1000 !== 7);
  for (let k = 0; k < noted.length; k += 10_000) {
    const indices = noted.slice(k, k + 10_000);
    await call('datasets/annotate', { datasetId, indices, rating: 4, addTags: ['checked', 'sea'] });
  }
  const params = { datasetId, tag: 'sea, checked', minRating: 4, offset: 30_000, limit: 3 };
  const { order, result } = await whileBusy(call, 'datasets/rows', params);
  assert.deepEqual(order, ['datasets/list', 'datasets/rows']);
  const page = result as { total: number; meta: { index: number }[] };
  assert.equal(page.total, noted.length);
  assert.deepEqual(
    page.meta.map((m) => m.index),
    noted.slice(30_000, 30_003),
  );
  // The filter's text is split into its tags once for the page, not once a row (0.3-1 s at 1M rows).
  let splits = 0;
  const tag = Object.assign(new String('sea, checked'), {
    split(sep: string) {
      splits++;
      return String(this).split(sep);
    },
  }) as unknown as string;
  const lib = openLibrary(join(root, 'data'));
  try {
    assert.equal(datasetRows(lib, { ...params, tag }).total, noted.length);
  } finally {
    closeLibrary(lib);
  }
  assert.equal(splits, 1);
  // "Unrated" alone matches the rows without annotations (no note: no rating).
  const unrated = await call('datasets/rows', { datasetId, unrated: true, limit: 100 });
  assert.deepEqual(
    unrated.meta.map((m: { index: number }) => m.index),
    matching,
  );
});

test('a page reads only its own annotations; a filter reads them all in slices', async () => {
  // The filter case above tagged all but one row in 1000. Counted: the tags parsed, and per turn of
  // the loop (every annotation read and parsed in one go held the loop ~200 ms at 1M rows).
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (...args: Parameters<typeof parse>) => {
    parses++;
    return parse(...args);
  };
  try {
    await call('datasets/rows', { datasetId, offset: 100, limit: 5 });
    assert.ok(parses < 100, `${parses} parses for a page of 5`);
    const { most, result: page } = await mostInOneTurn(
      () => parses,
      () => call('datasets/rows', { datasetId, tag: 'sea', offset: 0, limit: 5 }),
    );
    assert.equal(page.total, ROWS - ROWS / 1000);
    assert.ok(most < ROWS / 2, `${most} parses in one turn of the loop`);
  } finally {
    JSON.parse = parse;
  }
});

test("the Train wizard's first example of a big version (its row index built) leaves the loop free", async () => {
  // A version of its own: the other cases built and kept the first one's index.
  const file = join(root, 'voyages-back.jsonl');
  writeFileSync(
    file,
    `${Array.from({ length: ROWS }, (_, i) => JSON.stringify(row(ROWS - i))).join('\n')}\n`,
  );
  const back = (await call('datasets/import', { path: file })).dataset.id;
  const params = { modelId, datasetId: back, layers: '1', rank: 2, example: 40_000 };
  const { order, result } = await whileBusy(call, 'runs/preview', params);
  assert.deepEqual(order, ['datasets/list', 'runs/preview']);
  const preview = result as { index: number; exampleCount: number; line: number };
  assert.deepEqual([preview.index, preview.exampleCount, preview.line], [40_000, ROWS, 40_001]);
});

test('an edit of a big version (its rows copied into the new one) leaves the loop free', async () => {
  const { order, result } = await whileBusy(call, 'datasets/edit', { datasetId, remove: [1, 49_999] });
  assert.deepEqual(order, ['datasets/list', 'datasets/edit']);
  const { version } = result as { version: { id: number; rowCount: number } };
  assert.equal(version.rowCount, ROWS - 2);
  const page = await call('datasets/rows', { datasetId, versionId: version.id, offset: 0, limit: 2 });
  assert.deepEqual(page.rows, [row(0), row(2)]);
});

test('a split of a big version leaves the loop free', async () => {
  const { order, result } = await whileBusy(call, 'datasets/split', { datasetId, seed: 7 });
  assert.deepEqual(order, ['datasets/list', 'datasets/split']);
  const parts = result as Record<'train' | 'validation' | 'test', { rowCount: number }>;
  assert.deepEqual(
    [parts.train.rowCount, parts.validation.rowCount, parts.test.rowCount],
    [0.8, 0.1, 0.1].map((r) => (ROWS - 2) * r).map(Math.round),
  );
});

test("a split's seeded shuffle runs in slices too", async () => {
  // Counted: the shuffle's draws per turn of the loop (Math.floor, one a row), each made slow enough
  // that the shuffle outlasts a slice (at 1M rows, shuffled at once, it held the loop ~190 ms).
  const floor = Math.floor;
  let draws = 0;
  Math.floor = (x: number) => {
    draws++;
    const until = performance.now() + 0.002;
    while (performance.now() < until);
    return floor(x);
  };
  try {
    const { most, result: parts } = await mostInOneTurn(
      () => draws,
      () => call('datasets/split', { datasetId, seed: 8 }),
    );
    assert.equal(parts.train.rowCount + parts.validation.rowCount + parts.test.rowCount, ROWS - 2);
    assert.ok(most < ROWS / 2, `${most} draws in one turn of the loop`);
  } finally {
    Math.floor = floor;
  }
});

test("an edit reads its version's row ids as it copies the rows, not all before its first pause", async () => {
  // Counted: the ids read per turn of the loop, each made slow enough that decoding every id at
  // once outlasts a slice (at 1M rows it held the loop 20-60 ms before the copy's first pause).
  const { most, result } = await withIdReadsCounted(0.002, (reads) =>
    mostInOneTurn(reads, () => call('datasets/edit', { datasetId, set: [{ index: 2, row: row(-3) }] })),
  );
  assert.equal(result.version.rowCount, ROWS - 2);
  assert.ok(most < ROWS / 2, `${most} ids read in one turn of the loop`);
  // Row 1 was removed by an earlier case: index 2 held row 3.
  const page = await call('datasets/rows', { datasetId, offset: 1, limit: 3 });
  assert.deepEqual(page.rows, [row(2), row(-3), row(4)]);
});

test("an annotation decodes only its own rows' ids, not every id of the version", async () => {
  // Counted: the ids read. Decoding all of a million-row version's ids to tag one row held the loop
  // tens of ms.
  const { reads, meta } = await withIdReadsCounted(0, async (reads) => {
    const meta: { index: number; note: string | null }[] = await call('datasets/annotate', {
      datasetId,
      indices: [2, 40_000],
      note: 'starboard',
    });
    return { reads: reads(), meta };
  });
  assert.ok(reads < 100, `${reads} ids read to annotate 2 rows`);
  assert.deepEqual(
    meta.map((m) => [m.index, m.note]),
    [
      [2, 'starboard'],
      [40_000, 'starboard'],
    ],
  );
  // The note reached the rows asked for: row 2 (row(-3), written by the edit above) and row 40 000.
  const page = await call('datasets/rows', { datasetId, offset: 2, limit: 1 });
  assert.deepEqual(page.rows, [row(-3)]);
  assert.equal(page.meta[0].note, 'starboard');
  await assert.rejects(call('datasets/annotate', { datasetId, indices: [ROWS], note: 'x' }), /out of range/);
});
