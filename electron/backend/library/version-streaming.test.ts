// A version is read a row at a time, never whole: a page reads only the rows it shows (through the
// frozen file's row index), splits and edits stream the stored lines into the new versions' files,
// and the duplicate finder streams the texts. A version of 500 MB parsed whole was ~600 MB of heap
// per operation (numbers in the commit that made this so); here small files show the behaviour.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FormatError } from '../../../native-runtime/errors.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { annotateRows, versionRowIds } from './dataset-annotations.ts';
import { editDataset, splitDataset } from './dataset-edits.ts';
import { rowText } from './dataset-formats.ts';
import { importDataset } from './dataset-import.ts';
import { datasetRows, readVersionRows } from './dataset-rows.ts';
import { getDataset } from './datasets.ts';
import { findDuplicates, findVersionDuplicates } from './dedupe.ts';
import { closeLibrary, type Library, openLibrary } from './library.ts';

const root = tempDir('reft-version-streaming-');
const libs: Library[] = [];
after(() => libs.forEach(closeLibrary));

const row = (i: number) => ({ prompt: `question ${i}`, completion: `answer ${i % 7}` });

function hundredRows(): { lib: Library; datasetId: number; filePath: string } {
  const lib = openLibrary(join(root, `lib-${libs.length}`));
  libs.push(lib);
  const src = join(root, `rows-${libs.length}.jsonl`);
  writeFileSync(src, Array.from({ length: 100 }, (_, i) => JSON.stringify(row(i))).join('\n'));
  const r = importDataset(lib, { path: src });
  return { lib, datasetId: r.dataset.id, filePath: r.version.filePath };
}

/** Rewrites a frozen file's lines (the same row count): a damaged or differently written file. */
function rewriteLines(filePath: string, change: (line: string, i: number) => string): void {
  const lines = readFileSync(filePath, 'utf8').split('\n').slice(0, -1);
  writeFileSync(filePath, `${lines.map(change).join('\n')}\n`);
}

test('a page reads only the rows it shows; a damaged row is named in one line', () => {
  const { lib, datasetId, filePath } = hundredRows();
  // Row 90 damaged in place (same length): read whole, the first page failed on it with
  // JSON.parse's words; a page that does not show it never reads it.
  rewriteLines(filePath, (l, i) => (i === 90 ? '#'.repeat(l.length) : l));
  const first = datasetRows(lib, { datasetId, limit: 50 });
  assert.equal(first.total, 100);
  assert.deepEqual(
    first.rows,
    Array.from({ length: 50 }, (_, i) => row(i)),
  );
  const near = datasetRows(lib, { datasetId, offset: 60, limit: 20 });
  assert.deepEqual(
    near.meta.map((m) => m.index),
    Array.from({ length: 20 }, (_, i) => 60 + i),
  );
  assert.deepEqual(near.rows[19], row(79));
  const damaged = (e: unknown) =>
    e instanceof FormatError &&
    e.message === `dataset file ${filePath}: row 90 is not JSON (the file is damaged)`;
  assert.throws(() => datasetRows(lib, { datasetId, offset: 80, limit: 20 }), damaged);
  assert.throws(() => datasetRows(lib, { datasetId, search: 'question' }), damaged);
});

test('a text search streams the rows and keeps only its page', () => {
  const { lib, datasetId } = hundredRows();
  const page = datasetRows(lib, { datasetId, search: 'ANSWER 3', offset: 2, limit: 3 });
  const all = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 7 === 3);
  assert.equal(page.total, all.length);
  assert.deepEqual(
    page.meta.map((m) => m.index),
    all.slice(2, 5),
  );
  assert.deepEqual(page.rows, all.slice(2, 5).map(row));
});

/** How many stored row ids (4 bytes each, read with readUInt32LE) `read` decodes. */
function idsDecoded(read: () => void): number {
  const original = Buffer.prototype.readUInt32LE;
  let n = 0;
  Buffer.prototype.readUInt32LE = function (this: Buffer, offset?: number) {
    n++;
    return original.call(this, offset);
  };
  try {
    read();
  } finally {
    Buffer.prototype.readUInt32LE = original;
  }
  return n;
}

test("a page decodes only its rows' ids, unless it filters by tag or rating", () => {
  const { lib, datasetId } = hundredRows();
  const all = versionRowIds(lib, getDataset(lib, datasetId).latest);
  // Every id of the version was decoded for each page: 25–67 ms a page at a million rows.
  let page = datasetRows(lib, { datasetId, offset: 40, limit: 10 });
  assert.equal(
    idsDecoded(() => datasetRows(lib, { datasetId, offset: 40, limit: 10 })),
    10,
  );
  assert.deepEqual(
    page.meta.map((m) => m.rowId),
    all.slice(40, 50),
  );
  assert.equal(page.total, 100);
  // Past the end: no id, the total still right.
  assert.equal(
    idsDecoded(() => (page = datasetRows(lib, { datasetId, offset: 95, limit: 10 }))),
    5,
  );
  assert.deepEqual([page.total, page.meta.length], [100, 5]);
  page = datasetRows(lib, { datasetId, search: 'answer 3', offset: 2, limit: 3 });
  assert.equal(
    idsDecoded(() => datasetRows(lib, { datasetId, search: 'answer 3', offset: 2, limit: 3 })),
    3,
  );
  assert.deepEqual(
    page.meta.map((m) => m.rowId),
    [17, 24, 31].map((i) => all[i]),
  );
  annotateRows(lib, { datasetId, indices: [24], addTags: ['kept'] });
  page = datasetRows(lib, { datasetId, search: 'answer 3', tag: 'kept' });
  assert.deepEqual(
    page.meta.map((m) => [m.index, m.rowId]),
    [[24, all[24]]],
  );
});

test("a search's next pages read only their rows; tags and ratings are applied per page", () => {
  const { lib, datasetId, filePath } = hundredRows();
  const search = 'question 1';
  const matching = [1, ...Array.from({ length: 10 }, (_, i) => 10 + i)];
  const first = datasetRows(lib, { datasetId, search, limit: 5 });
  assert.equal(first.total, matching.length);
  assert.deepEqual(
    first.meta.map((m) => m.index),
    matching.slice(0, 5),
  );
  // Row 50 damaged in place: a search reading the file again for the next page fails on it.
  rewriteLines(filePath, (l, i) => (i === 50 ? '#'.repeat(l.length) : l));
  const next = datasetRows(lib, { datasetId, search, offset: 5, limit: 5 });
  assert.equal(next.total, matching.length);
  assert.deepEqual(next.rows, matching.slice(5, 10).map(row));
  annotateRows(lib, { datasetId, indices: [15, 16], addTags: ['kept'] });
  assert.deepEqual(
    datasetRows(lib, { datasetId, search, tag: 'kept' }).meta.map((m) => m.index),
    [15, 16],
  );
  // Another text is a new search: it reads the file and meets the damaged row.
  assert.throws(() => datasetRows(lib, { datasetId, search: 'answer 2' }), FormatError);
});

test('splits and edits copy the stored lines into the new versions, never re-serialised', () => {
  const { lib, datasetId, filePath } = hundredRows();
  // The same rows written with spaces: parsed and written again (the whole version in memory),
  // every line came out without them.
  rewriteLines(filePath, (l) => l.replaceAll('":"', '": "').replaceAll('","', '", "'));
  const stored = readFileSync(filePath, 'utf8').split('\n').slice(0, -1);
  const lines = (p: string) => readFileSync(p, 'utf8').split('\n').slice(0, -1);
  const s = splitDataset(lib, { datasetId, seed: 3 });
  const parts = [s.train, s.validation, s.test].map((v) => lines(v?.filePath as string));
  assert.deepEqual(
    parts.map((p) => p.length),
    [80, 10, 10],
  );
  assert.deepEqual([...parts.flat()].sort(), [...stored].sort(), 'every stored line, once, as stored');
  for (const p of parts) {
    const at = p.map((l) => stored.indexOf(l));
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      "each part keeps the version's order",
    );
  }
  const e = editDataset(lib, {
    datasetId,
    set: [{ index: 1, row: { prompt: 'edited', completion: 'row' } }],
    remove: [0, 99],
    append: [{ prompt: 'new', completion: 'row' }],
  });
  assert.deepEqual(lines(e.version.filePath), [
    '{"prompt":"edited","completion":"row"}',
    ...stored.slice(2, 99),
    '{"prompt":"new","completion":"row"}',
  ]);
});

test("the duplicate finder streams a version's file and finds what it finds over the texts", () => {
  const { lib, datasetId, filePath } = hundredRows();
  const e = editDataset(lib, {
    datasetId,
    append: [
      row(5),
      { prompt: 'Question 17!', completion: 'answer 3' },
      { prompt: 'question 170', completion: 'answer 3' },
    ],
  });
  const texts = readVersionRows(lib, e.version.id).map(rowText);
  for (const opts of [{}, { threshold: 0.6 }, { maxPairs: 1 }, { near: false }]) {
    const r = findVersionDuplicates(e.version.filePath, opts);
    assert.deepEqual(r, findDuplicates(texts, opts));
    assert.ok(r.exact.length >= 1);
  }
  assert.equal(findVersionDuplicates(filePath, { near: false }).exact.length, 0);
});
