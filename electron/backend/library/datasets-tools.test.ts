// Dataset tools: CSV and Parquet import with column mapping, malformed rows reported by number,
// per-row ratings/tags/notes and filters, edits as new versions, seeded splits, duplicate detection.

import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { parquetRowGroups } from '../../../native-runtime/training/data-files.ts';
import { writeParquet } from '../../../tests/backend/parquet-writer.ts';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { annotateRows } from './dataset-annotations.ts';
import { dropDuplicates, editDataset, splitDataset } from './dataset-edits.ts';
import { importDataset, importDatasetFile } from './dataset-import.ts';
import { datasetRows, readVersionRows } from './dataset-rows.ts';
import { getDataset } from './datasets.ts';
import { findDuplicates, jaccard, normalizeText, shingles } from './dedupe.ts';
import { readFrozenRows } from './frozen-files.ts';
import type { Library } from './library.ts';
import { checkSourcePath } from './source-path.ts';

const { root, open } = testLibraries('reft-dstools-');
function file(name: string, body: string | Uint8Array): string {
  const p = join(root, name);
  writeFileSync(p, body);
  return p;
}

test('CSV with other column names: refused with the columns named, imported with a mapping', () => {
  const lib = open();
  const p = file(
    'qa.csv',
    'question,answer\n"What is 2+2, really?",4\nbad row\n"Why?","Because\nof reasons"\n,\n',
  );
  assert.throws(
    () => importDataset(lib, { path: p }),
    (e: unknown) =>
      e instanceof FormatError &&
      /columns: question, answer/.test(e.message) &&
      // The suggested mapping travels as data (the CLI and the window word it each their way).
      JSON.stringify(e.details) ===
        JSON.stringify({
          columns: ['question', 'answer'],
          mapping: { prompt: 'question', completion: 'answer' },
        }),
  );
  const r = importDataset(lib, { path: p, mapping: { prompt: 'question', completion: 'answer' } });
  assert.equal(r.version.rowCount, 2);
  assert.deepEqual(
    r.rejected.map((b) => b.line),
    [3, 6],
    'the short row (line 3) and the empty completion (line 6) are reported by line',
  );
  const rows = readVersionRows(lib, r.version.id);
  assert.deepEqual(rows[1], { prompt: 'Why?', completion: 'Because\nof reasons' });
});

test('Parquet import: rows by number, nulls reported, mapping applied', async () => {
  const lib = open();
  const p = file('qa.parquet', writeParquet({ q: ['one', 'two', 'three', 'four'], a: ['1', null, '3', ''] }));
  await assert.rejects(importDatasetFile(lib, { path: p }), (e: unknown) => e instanceof FormatError);
  const r = await importDatasetFile(lib, { path: p, mapping: { prompt: 'q', completion: 'a' }, name: 'pq' });
  assert.equal(r.dataset.name, 'pq');
  assert.equal(r.version.rowCount, 2);
  assert.deepEqual(
    r.rejected.map((b) => [b.line, b.message]),
    [
      [2, 'no completion (expected a "completion" or "output" field)'],
      [4, 'the completion is empty'],
    ],
  );
  assert.deepEqual(readVersionRows(lib, r.version.id), [
    { prompt: 'one', completion: '1' },
    { prompt: 'three', completion: '3' },
  ]);
  await assert.rejects(
    importDatasetFile(lib, { path: file('bad.parquet', 'PAR1 not really') }),
    (e: unknown) =>
      e instanceof FormatError &&
      e.code === 'bad-parquet' &&
      e.message.startsWith('bad.parquet: not a readable Parquet file'),
  );
});

test('Parquet text is kept exactly; a value that is not UTF-8 leaves its row out, naming the column', async () => {
  // Before: hyparquet's decoder dropped a U+FEFF starting a value and made Latin-1 bytes U+FFFD.
  const texts = ['\ufeffstarts with a BOM', 'crlf\r\n cr\r nul\u0000 ls\u2028 tab\t end  ', 'cafZ'];
  const bytes = Buffer.from(writeParquet({ prompt: ['p1', 'p2', 'p3'], completion: texts }));
  bytes[bytes.indexOf('cafZ') + 3] = 0xe9; // "café" in Latin-1
  const lib = open();
  const r = await importDatasetFile(lib, { path: file('exact.parquet', bytes), name: 'exact' });
  assert.deepEqual(readVersionRows(lib, r.version.id), [
    { prompt: 'p1', completion: texts[0] },
    { prompt: 'p2', completion: texts[1] },
  ]);
  assert.deepEqual(
    r.rejected.map((b) => [b.line, b.message]),
    [
      [
        3,
        '"completion" is not UTF-8 text (another encoding, such as Latin-1 or Windows-1252?); save it as UTF-8',
      ],
    ],
  );
});

test('Parquet is read from the file a row group at a time, rows numbered across groups', async () => {
  const q = ['one', 'two', 'three', 'four', 'five'];
  const p = file(
    'groups.parquet',
    writeParquet({ prompt: q, completion: ['1', '2', '3', '4', ''] }, { rowsPerGroup: 2 }),
  );
  const groups: { lines: number[]; total: number }[] = [];
  for await (const g of parquetRowGroups('groups.parquet', p))
    groups.push({ lines: g.rows.map((r) => r.line), total: g.total });
  assert.deepEqual(groups, [
    { lines: [1, 2], total: 5 },
    { lines: [3, 4], total: 5 },
    { lines: [5], total: 5 },
  ]);
  const lib = open();
  const seen: [number, number | null][] = [];
  const r = await importDatasetFile(lib, { path: p, onProgress: (done, total) => seen.push([done, total]) });
  assert.deepEqual(
    readVersionRows(lib, r.version.id).map((row) => ('prompt' in row ? row.prompt : '')),
    q.slice(0, 4),
  );
  assert.deepEqual(
    r.rejected.map((b) => [b.line, b.message]),
    [[5, 'the completion is empty']],
  );
  assert.deepEqual(seen.at(-1), [5, 5]);
  // A later group that cannot be read (its page header overwritten) fails the import in one line,
  // after the first group's rows were written: nothing is kept.
  const cut = readFileSync(p);
  cut.fill(0xff, 100, 140);
  await assert.rejects(
    importDatasetFile(lib, { path: file('cut.parquet', cut) }),
    (e: unknown) =>
      e instanceof FormatError && e.message.startsWith('cut.parquet: not a readable Parquet file'),
  );
  assert.deepEqual(
    readdirSync(join(lib.dataDir, 'datasets')).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('a file that is not UTF-8 is refused naming its line; nothing becomes U+FFFD', async () => {
  // Windows-1252 "café" from a spreadsheet: a lenient decoder stored "caf\uFFFD" and trained on it.
  const lib = open();
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  const jsonl = file(
    'w1252.jsonl',
    latin1('{"prompt":"a","completion":"b"}\n{"prompt":"café","completion":"d"}\n'),
  );
  await assert.rejects(
    importDatasetFile(lib, { path: jsonl, onBadRows: 'refuse' }),
    (e: unknown) => e instanceof FormatError && /^w1252\.jsonl:2: the line is not UTF-8 text/.test(e.message),
  );
  const r = await importDatasetFile(lib, { path: jsonl });
  assert.deepEqual(
    r.rejected.map((b) => [b.line, b.message.slice(0, 30)]),
    [[2, 'the line is not UTF-8 text (an']],
  );
  assert.deepEqual(readVersionRows(lib, r.version.id), [{ prompt: 'a', completion: 'b' }]);
  const csv = file('w1252.csv', latin1('prompt,completion\nx,y\ncafé,ok\n'));
  for (const attempt of [
    () => importDatasetFile(lib, { path: csv }),
    async () => importDataset(lib, { path: csv }),
  ])
    await assert.rejects(
      attempt(),
      (e: unknown) => e instanceof FormatError && e.code === 'not-utf8' && /^w1252\.csv:3: /.test(e.message),
    );
  const utf16 = file('utf16.csv', Buffer.from('\uFEFFprompt,completion\r\nx,y\r\n', 'utf16le'));
  await assert.rejects(
    importDatasetFile(lib, { path: utf16 }),
    (e: unknown) => e instanceof FormatError && /^utf16\.csv:1: the file is UTF-16 text/.test(e.message),
  );
});

test('a CSV longer than a JavaScript string can hold is refused naming the file, not with V8 words', async () => {
  // Read whole, it failed with "Cannot create a string longer than 0x1fffffe8 characters" alone.
  const p = join(root, 'huge.csv');
  writeFileSync(p, '');
  truncateSync(p, constants.MAX_STRING_LENGTH + 1); // sparse: no disk, NUL bytes are UTF-8
  await assert.rejects(
    importDatasetFile(open(), { path: p }),
    (e: unknown) =>
      e instanceof FormatError &&
      e.code === 'file-too-large' &&
      /^huge\.csv: the file is too long to read whole \(536870889 bytes; .*save it as JSONL/.test(e.message),
  );
  rmSync(p);
});

test('a JSONL line longer than a JavaScript string can hold is a bad row naming its line and the limit', async () => {
  // It failed the whole import with "Cannot create a string longer than 0x1fffffe8 characters".
  const p = file('long-line.jsonl', '{"prompt":"a","completion":"b"}\n');
  truncateSync(p, 32 + constants.MAX_STRING_LENGTH + 1); // sparse: one line of NUL bytes, no disk
  const r = await importDatasetFile(open(), { path: p });
  assert.equal(r.version.rowCount, 1);
  assert.deepEqual(
    r.rejected.map((b) => `${b.line}: ${b.message}`),
    ['2: the line is 536870889 bytes long (a line can be at most 536870888 bytes)'],
  );
  rmSync(p);
});

test('a frozen file is read a line at a time: a line too long for a string is named, not V8 words', () => {
  // Read whole, a version over 512 MB failed with "Cannot create a string longer than 0x1fffffe8
  // characters"; now only a single line that long is refused (a file of normal lines is read).
  const p = join(root, 'frozen-huge.jsonl');
  writeFileSync(p, '{"prompt":"a","completion":"b"}\n');
  truncateSync(p, 32 + constants.MAX_STRING_LENGTH + 1);
  assert.throws(
    () => readFrozenRows(p),
    (e: unknown) =>
      e instanceof FormatError &&
      e.message ===
        `dataset file ${p}: line 2 is 536870889 bytes long (a line can be at most 536870888 bytes)`,
  );
  rmSync(p);
});

test('a streamed JSONL keeps characters split across read chunks, a BOM, CRLF and a last line without newline', async () => {
  const lib = open();
  const long = 'é日😀'.repeat(40_000); // ~360 KB a line: many 64 KB chunks, split inside characters
  const p = file(
    'multi.jsonl',
    `\uFEFF{"prompt":"${long}","completion":"e\u0301"}\r\n\r\n{"prompt":"x","completion":"${long}"}`,
  );
  const r = await importDatasetFile(lib, { path: p });
  assert.deepEqual(readVersionRows(lib, r.version.id), [
    { prompt: long, completion: 'e\u0301' },
    { prompt: 'x', completion: long },
  ]);
});

test('a .json file: rows under one key, or JSON Lines whose first line is long, or a BOM', async () => {
  const lib = open();
  const rows = [
    { prompt: 'a', completion: 'b' },
    { prompt: 'c', completion: 'd' },
  ];
  // Before: read as JSON Lines, every line "not valid JSON".
  const keyed = file('keyed.json', `\uFEFF${JSON.stringify({ data: rows }, null, 2)}`);
  const r = await importDatasetFile(lib, { path: keyed });
  assert.deepEqual(readVersionRows(lib, r.version.id), rows);
  // JSON Lines with a first line longer than any fixed look-ahead, in a .json file and in a file
  // whose name says nothing: still streamed line by line.
  const long = { prompt: 'x'.repeat(100_000), completion: 'y' };
  const body = `${JSON.stringify(long)}\n${JSON.stringify(rows[0])}\n`;
  for (const name of ['lines.json', 'lines']) {
    const l = await importDatasetFile(lib, { path: file(name, body), name });
    assert.deepEqual(readVersionRows(lib, l.version.id), [long, rows[0]], name);
  }
  // A JSON list saved as .jsonl (before: one bad row, "is not a JSON object", and no rows).
  const list = await importDatasetFile(lib, { path: file('list.jsonl', JSON.stringify(rows)) });
  assert.deepEqual(readVersionRows(lib, list.version.id), rows);
});

test('source paths must be absolute and free of ".."', () => {
  assert.throws(
    () => checkSourcePath('../../etc/passwd'),
    (e: unknown) => e instanceof ValidationError && e.code === 'bad-path',
  );
  assert.throws(() => checkSourcePath('/tmp/../etc/passwd'), ValidationError);
  assert.throws(() => checkSourcePath('relative.jsonl'), ValidationError);
  assert.throws(() => checkSourcePath('/tmp/a\0b'), ValidationError);
  assert.equal(checkSourcePath('/tmp/x.jsonl'), '/tmp/x.jsonl');
});

function tenRows(lib: Library) {
  const lines = Array.from({ length: 10 }, (_, i) =>
    JSON.stringify({ prompt: `p${i} apples`, completion: `c${i}` }),
  );
  return importDataset(lib, { path: file(`ten-${basename(lib.dataDir)}.jsonl`, lines.join('\n')) });
}

test('ratings, tags and notes; filters by tag, rating, search; metadata follows rows into new versions', () => {
  const lib = open();
  const r = tenRows(lib);
  const ds = r.dataset.id;
  annotateRows(lib, { datasetId: ds, indices: [1, 2, 3], rating: 5, addTags: ['good', 'math'] });
  annotateRows(lib, { datasetId: ds, indices: [3], rating: 2, removeTags: ['good'], note: 'hmm' });
  annotateRows(lib, { datasetId: ds, indices: [7], addTags: ['math'] });
  const page = datasetRows(lib, { datasetId: ds, limit: 3 });
  assert.equal(page.total, 10);
  assert.deepEqual(
    page.meta.map((m) => m.index),
    [0, 1, 2],
  );
  assert.deepEqual(page.meta[1].tags, ['good', 'math']);
  assert.deepEqual(
    datasetRows(lib, { datasetId: ds, tag: 'math' }).meta.map((m) => m.index),
    [1, 2, 3, 7],
  );
  assert.deepEqual(
    datasetRows(lib, { datasetId: ds, minRating: 4 }).meta.map((m) => m.index),
    [1, 2],
  );
  assert.deepEqual(
    datasetRows(lib, { datasetId: ds, maxRating: 3 }).meta.map((m) => [m.index, m.note]),
    [[3, 'hmm']],
  );
  assert.equal(datasetRows(lib, { datasetId: ds, unrated: true }).total, 7);
  assert.deepEqual(
    datasetRows(lib, { datasetId: ds, search: 'P5 APP' }).meta.map((m) => m.index),
    [5],
  );
  const filteredPage = datasetRows(lib, { datasetId: ds, tag: 'math', offset: 1, limit: 2 });
  assert.equal(filteredPage.total, 4);
  assert.deepEqual(
    filteredPage.meta.map((m) => m.index),
    [2, 3],
  );
  assert.throws(() => annotateRows(lib, { datasetId: ds, indices: [10], rating: 3 }), ValidationError);
  assert.throws(() => annotateRows(lib, { datasetId: ds, indices: [0], rating: 6 }), ValidationError);

  // Edit: a new frozen version; the old one is unchanged; metadata follows the rows (an edited row
  // is still that row: fixing a typo keeps its tags).
  const e = editDataset(lib, {
    datasetId: ds,
    remove: [0],
    set: [{ index: 2, row: { prompt: 'p2 pears', completion: 'c2' } }],
    append: [{ prompt: 'new', completion: 'row' }],
  });
  assert.equal(e.version.version, 2);
  assert.equal(e.version.parentVersionId, r.version.id);
  assert.equal(e.version.rowCount, 10);
  assert.equal(readVersionRows(lib, r.version.id).length, 10);
  assert.deepEqual(readVersionRows(lib, e.version.id)[1], { prompt: 'p2 pears', completion: 'c2' });
  assert.deepEqual(
    datasetRows(lib, { datasetId: ds, tag: 'math' }).meta.map((m) => m.index),
    [0, 1, 2, 6],
    'the rows keep their tags in the new version, the edited one too',
  );
  assert.equal(getDataset(lib, ds).latest.id, e.version.id);
  assert.throws(
    () => editDataset(lib, { datasetId: ds, append: [{ prompt: 'no completion' }] }),
    ValidationError,
  );
  assert.throws(() => editDataset(lib, { datasetId: ds, remove: [99] }), ValidationError);
});

test('a split whose validation part cannot be recorded records no part at all', () => {
  const lib = open();
  const r = tenRows(lib);
  // A real SQLite refusal of the second part; the three parts were three transactions, so the
  // train part stayed recorded alone (a partial split).
  lib.db.exec(`CREATE TRIGGER refuse_validation BEFORE INSERT ON dataset_versions
    WHEN NEW.split = 'validation' BEGIN SELECT RAISE(ABORT, 'validation refused'); END`);
  assert.throws(() => splitDataset(lib, { datasetId: r.dataset.id }), /validation refused/);
  assert.deepEqual(
    getDataset(lib, r.dataset.id).versions.map((v) => v.id),
    [r.version.id],
  );
  lib.db.exec('DROP TRIGGER refuse_validation');
  const s = splitDataset(lib, { datasetId: r.dataset.id });
  assert.deepEqual([s.train.rowCount, s.validation?.rowCount, s.test?.rowCount], [8, 1, 1]);
});

test('seeded splits: disjoint, complete, reproducible; children do not become the latest version', () => {
  const lib = open();
  const r = tenRows(lib);
  const s1 = splitDataset(lib, {
    datasetId: r.dataset.id,
    seed: 7,
    ratios: { train: 0.6, validation: 0.2, test: 0.2 },
  });
  assert.deepEqual([s1.train.rowCount, s1.validation?.rowCount, s1.test?.rowCount], [6, 2, 2]);
  const all = [s1.train, s1.validation!, s1.test!].flatMap((v) =>
    readVersionRows(lib, v.id).map((x) => JSON.stringify(x)),
  );
  assert.equal(new Set(all).size, 10);
  assert.equal(s1.train.split, 'train');
  assert.equal(s1.train.splitSeed, 7);
  assert.equal(getDataset(lib, r.dataset.id).latest.id, r.version.id, 'the full version stays the latest');
  const s2 = splitDataset(lib, {
    datasetId: r.dataset.id,
    versionId: r.version.id,
    seed: 7,
    ratios: { train: 0.6, validation: 0.2, test: 0.2 },
  });
  assert.equal(s2.train.contentHash, s1.train.contentHash, 'same seed, same parts');
  const s3 = splitDataset(lib, {
    datasetId: r.dataset.id,
    versionId: r.version.id,
    seed: 8,
    ratios: { train: 0.6, validation: 0.2, test: 0.2 },
  });
  assert.notEqual(s3.train.contentHash, s1.train.contentHash);
  assert.throws(
    () => splitDataset(lib, { datasetId: r.dataset.id, versionId: s1.train.id }),
    ValidationError,
  );
  assert.throws(
    () => splitDataset(lib, { datasetId: r.dataset.id, ratios: { train: 0, validation: 1, test: 0 } }),
    ValidationError,
  );
  const noTest = splitDataset(lib, {
    datasetId: r.dataset.id,
    versionId: r.version.id,
    ratios: { train: 0.9, validation: 0.1, test: 0 },
  });
  assert.equal(noTest.test, null);
});

test('duplicates: exact after normalisation, near by 5-gram Jaccard >= 0.9, nothing below', () => {
  const base = 'The quick brown fox jumps over the lazy dog while the cat watches from the old wooden fence.';
  const texts = [
    base,
    'the QUICK brown fox, jumps over the lazy dog while the cat watches from the old wooden fence',
    `${base.slice(0, -1)}!`,
    base.replace('old', 'olde'),
    'Something entirely different about sailing ships and the sea.',
    base.replace('lazy dog', 'energetic puppy'),
    'Something entirely different about sailing ships and the sea.',
  ];
  const r = findDuplicates(texts);
  assert.deepEqual(
    r.exact.map((p) => [p.a, p.b]),
    [
      [0, 1],
      [0, 2],
      [4, 6],
    ],
  );
  assert.equal(r.exactGroups, 2);
  assert.deepEqual(
    r.near.map((p) => [p.a, p.b]),
    [[0, 3]],
  );
  assert.ok(r.near[0].similarity >= 0.9 && r.near[0].similarity < 1);
  const j = jaccard(shingles(normalizeText(texts[0])), shingles(normalizeText(texts[5])));
  assert.ok(j < 0.9, `the reworded row is not near (${j.toFixed(3)})`);
  assert.deepEqual(
    findDuplicates(texts, { threshold: 0.5 }).near.map((p) => [p.a, p.b]),
    [
      [0, 3],
      [0, 5],
      [3, 5],
    ],
  );
  assert.equal(r.nearPartial, null);
  assert.equal(findDuplicates(['a', 'a', 'a'], { maxPairs: 1 }).truncated, true);
});

test('duplicate detection on 5,000 rows stays fast', () => {
  const texts = Array.from(
    { length: 5000 },
    (_, i) => `Row ${i}: a sentence about item number ${i * 7919} and its properties.`,
  );
  texts[4000] = texts[10];
  texts[4500] = `${texts[20]} s`;
  const t0 = performance.now();
  const r = findDuplicates(texts);
  const ms = performance.now() - t0;
  assert.deepEqual(
    r.exact.map((p) => [p.a, p.b]),
    [[10, 4000]],
  );
  assert.deepEqual(
    r.near.map((p) => [p.a, p.b]),
    [[20, 4500]],
  );
  assert.ok(ms < 15_000, `took ${ms.toFixed(0)} ms`);
  assert.equal(r.nearPartial, null, 'ordinary rows are searched whole');
});

test('near search on repetitive rows compares a bounded number of pairs and says it was cut short', async () => {
  // Rows drawn from 30 words (as rows from a few templates are): even a row's rarest 5-grams are in
  // hundreds of rows, and every pair became a candidate (2,000 rows took 8.5 s, 100,000 minutes).
  const words = 'the a of to and in is for on with as by at from this that it be are was'.split(' ');
  words.push(...'question answer explain write list describe give example short summary'.split(' '));
  let seed = 1;
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const texts = Array.from({ length: 1500 }, () =>
    Array.from({ length: 60 }, () => words[Math.floor(next() * words.length)]).join(' '),
  );
  texts.push(`${texts[7]} again`); // a real near-duplicate among them
  const r = findDuplicates(texts);
  assert.ok(r.nearPartial, 'the report says the search was cut short');
  const { comparedPairs, candidatePairs, maxCandidates, note } = r.nearPartial;
  assert.ok(comparedPairs <= texts.length * maxCandidates, `${comparedPairs} pairs compared`);
  assert.ok(comparedPairs < candidatePairs);
  assert.match(
    note,
    /^near search cut short: compared [\d,]+ of [\d,]+ candidate pairs \(at most 50 a row\)/,
  );
  assert.deepEqual(
    r.near.map((p) => [p.a, p.b]),
    [[7, 1500]],
  );
  // Buckets over the limit are skipped, and said so.
  const small = findDuplicates(texts, { maxBucket: 20 }).nearPartial;
  assert.ok(small && small.skippedBuckets > 0);
  assert.match(small.note, /; [\d,]+ 5-grams found in over 20 rows skipped$/);
  // Dropping near-duplicates says so too: in its result and in the new version's note.
  const lib = open();
  const rows = texts.map((t) => JSON.stringify({ prompt: t, completion: 'ok' }));
  const { dataset } = importDataset(lib, { path: file('repetitive.jsonl', `${rows.join('\n')}\n`) });
  const d = await dropDuplicates(lib, { datasetId: dataset.id, mode: 'near' });
  assert.deepEqual(d.removed, [1500]);
  assert.match(d.nearPartial?.note ?? '', /^near search cut short: /);
  assert.match(
    d.version?.note ?? '',
    /^1 near-duplicates .* dropped from version 1 \(near search cut short: /,
  );
});
