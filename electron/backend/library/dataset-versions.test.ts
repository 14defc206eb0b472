// Dataset bugs of issue 10, each reproduced: annotations per row (not per content), a re-import is a
// version of the same dataset, split ratios that do not add up to 1 are refused, rejected lines are
// kept with the import; plus drop duplicates, rename, split selectors and the row-id upgrade of a
// library written before rows had ids.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { CancelledError, ValidationError } from '../../../native-runtime/errors.ts';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { writeTransaction } from '../db/database.ts';
import { annotateRows, versionRowIds } from './dataset-annotations.ts';
import {
  createDataset,
  dropDuplicates,
  editDataset,
  editDatasetInSlices,
  resolveDatasetVersion,
  splitDataset,
  splitDatasetInSlices,
} from './dataset-edits.ts';
import { importDataset } from './dataset-import.ts';
import { datasetRejects, datasetRows, datasetRowsInSlices, readVersionRows } from './dataset-rows.ts';
import {
  allocateRowIds,
  getDataset,
  listDatasets,
  recordVersion,
  removeDataset,
  renameDataset,
} from './datasets.ts';
import { findVersionDuplicates } from './dedupe.ts';
import { rowHash } from './row-hashes.ts';
import { planRunData } from './run-plan.ts';

const { root, open } = testLibraries('reft-dsversions-');
function file(name: string, lines: unknown[]): string {
  const p = join(root, name);
  writeFileSync(p, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return p;
}
const row = (p: string, c = 'ok') => ({ prompt: p, completion: c });

test('two identical rows are annotated separately (annotations belong to the row, not its text)', () => {
  const lib = open();
  const r = importDataset(lib, { path: file('dup.jsonl', [row('same'), row('other'), row('same')]) });
  const datasetId = r.dataset.id;
  annotateRows(lib, { datasetId, indices: [2], rating: 1, addTags: ['wrong'] });
  const page = datasetRows(lib, { datasetId });
  assert.deepEqual(
    page.meta.map((m) => [m.index, m.rating, m.tags]),
    [
      [0, null, []],
      [1, null, []],
      [2, 1, ['wrong']],
    ],
    'only the annotated copy carries the rating and the tag',
  );
  assert.deepEqual(
    datasetRows(lib, { datasetId, tag: 'wrong' }).meta.map((m) => m.index),
    [2],
  );
});

test("a page of the latest version stays that version's when an edit lands during its scans", async () => {
  const lib = open();
  const rows = ['apple', 'banana', 'cherry'].map((p) => row(p));
  const datasetId = importDataset(lib, { path: file('fruit.jsonl', rows) }).dataset.id;
  // The page's scans (row index, search) pause; an edit recorded meanwhile makes a new latest version.
  const page = datasetRowsInSlices(lib, { datasetId, search: 'cherry' });
  const edited = editDataset(lib, { datasetId, set: [{ index: 2, row: row('damson') }] });
  const { versionId, rows: found, meta } = await page;
  assert.notEqual(versionId, edited.version.id, 'the page is of the version that was searched');
  assert.deepEqual(found, [row('cherry')]);
  assert.deepEqual(
    meta.map((m) => m.index),
    [2],
  );
});

test('a dataset removed while its edit or split copies rows: refused in one line, no files left', async () => {
  const lib = open();
  // Big enough that the copies pause (sliced-scans.ts) before they end.
  const rows = Array.from({ length: 50_000 }, (_, i) => row(`question ${i}`, `answer ${i}`));
  const datasetId = importDataset(lib, { path: file('removed.jsonl', rows) }).dataset.id;
  const folder = join(lib.dataDir, 'datasets');
  const edit = editDatasetInSlices(lib, { datasetId, remove: [0] });
  const split = splitDatasetInSlices(lib, { datasetId });
  removeDataset(lib, datasetId);
  const said = (what: string) => ({
    code: 'not-found',
    message: `dataset "removed" was removed while its ${what} ran: nothing was stored`,
  });
  await Promise.all([assert.rejects(edit, said('edit')), assert.rejects(split, said('split'))]);
  // The removed dataset's own file is deleted with it (frozen-file-reclaim.ts).
  assert.deepEqual(readdirSync(folder), [], 'no frozen copy of a version never recorded');
});

test('two edits of the latest version at once: the one recorded second is refused, nothing lost', async () => {
  const lib = open();
  // Big enough that the two copies pause (sliced-scans.ts) and interleave.
  const rows = Array.from({ length: 50_000 }, (_, i) => row(`question ${i}`, `answer ${i}`));
  const datasetId = importDataset(lib, { path: file('both.jsonl', rows) }).dataset.id;
  const folder = join(lib.dataDir, 'datasets');
  const edits = [row('first'), row('second')].map((r, index) =>
    editDatasetInSlices(lib, { datasetId, set: [{ index, row: r }] }),
  );
  const [a, b] = await Promise.allSettled(edits);
  // Both read version 1; had both been recorded, the latest would hold only one of the two rows.
  const [made, refused] = a.status === 'fulfilled' ? [a, b] : [b, a];
  assert.equal(made.status, 'fulfilled');
  assert.equal(refused.status, 'rejected');
  assert.ok(refused.status === 'rejected' && refused.reason instanceof ValidationError);
  assert.equal(refused.reason.code, 'conflict');
  assert.equal(
    refused.reason.message,
    'dataset "both" got version 2 while this edit of version 1 ran: nothing was stored; make the edit again on version 2',
  );
  const ds = getDataset(lib, datasetId);
  assert.equal(ds.versions.length, 2, 'one version made');
  assert.equal(readdirSync(folder).length, 2, 'no frozen copy of the refused edit');
  // Asked again, the refused edit builds on the one recorded: the latest holds both.
  const index = made === a ? 1 : 0;
  await editDatasetInSlices(lib, { datasetId, set: [{ index, row: index ? row('second') : row('first') }] });
  assert.deepEqual(datasetRows(lib, { datasetId, limit: 2 }).rows, [row('first'), row('second')]);
  // An edit that names its version may branch from it, as one made after the other would.
  const v1 = ds.versions.find((v) => v.version === 1)?.id;
  const branch = await editDatasetInSlices(lib, { datasetId, versionId: v1, remove: [7] });
  assert.equal(branch.version.parentVersionId, v1);
});

test("an edit of the latest is refused inside its record's transaction (another process's version)", () => {
  // The edit's early check runs before its files are finished; a CLI beside serve may record a
  // version in that gap, which only a check inside recordVersion's write transaction sees.
  const lib = open();
  const datasetId = importDataset(lib, { path: file('gap.jsonl', [row('a'), row('b')]) }).dataset.id;
  const v1 = getDataset(lib, datasetId).latest;
  editDataset(lib, { datasetId, append: [row('landed meanwhile')] });
  const edited: Parameters<typeof recordVersion>[1] = {
    contentHash: v1.contentHash,
    rel: relative(lib.dataDir, v1.filePath),
    rowCount: v1.rowCount,
    sizeBytes: v1.sizeBytes,
    createdHere: false,
  };
  assert.throws(
    () =>
      recordVersion(lib, edited, { datasetId, format: v1.format, parentVersionId: v1.id, ofLatest: v1.id }),
    {
      code: 'conflict',
      message:
        'dataset "gap" got version 2 while this edit of version 1 ran: nothing was stored; make the edit again on version 2',
    },
  );
  assert.equal(getDataset(lib, datasetId).versions.length, 2, 'nothing recorded');
});

test('drop duplicates of the latest version refuses when an edit lands during its search', async () => {
  const lib = open();
  const rows = [row('same'), row('same'), row('other')];
  const datasetId = importDataset(lib, { path: file('dropped.jsonl', rows) }).dataset.id;
  const find: typeof findVersionDuplicates = (path, opts) => {
    editDataset(lib, { datasetId, append: [row('new')] });
    return findVersionDuplicates(path, opts);
  };
  await assert.rejects(dropDuplicates(lib, { datasetId }, find), {
    code: 'conflict',
    message:
      'dataset "dropped" got version 2 while this edit of version 1 ran: nothing was stored; make the edit again on version 2',
  });
  assert.equal(getDataset(lib, datasetId).versions.length, 2);
});

test('drop duplicates cancelled while it copies rows stores nothing and leaves no files', async () => {
  const lib = open();
  // Every row twice, and enough of them that the copy pauses (sliced-scans.ts) before it ends.
  const rows = Array.from({ length: 50_000 }, (_, i) => row(`question ${i % 25_000}`));
  const datasetId = importDataset(lib, { path: file('twice.jsonl', rows) }).dataset.id;
  const folder = join(lib.dataDir, 'datasets');
  const files = readdirSync(folder);
  const stop = new AbortController();
  // The window's Cancel arrives once the search is done, while the new version's rows are copied.
  const find: typeof findVersionDuplicates = (path, opts) => {
    const report = findVersionDuplicates(path, opts);
    setImmediate(() => stop.abort());
    return report;
  };
  await assert.rejects(dropDuplicates(lib, { datasetId }, find, stop.signal), CancelledError);
  assert.equal(getDataset(lib, datasetId).versions.length, 1, 'no version made');
  assert.deepEqual(readdirSync(folder), files, 'the copy begun was dropped');
});

test('annotations follow each row into edits, splits, dropped duplicates and a re-import', async () => {
  const lib = open();
  const rows = Array.from({ length: 10 }, (_, i) => row(`question ${i}`, `answer ${i}`));
  const path = file('ten.jsonl', [...rows, rows[3]]); // row 10 repeats row 3
  const r = importDataset(lib, { path, name: 'ten' });
  const datasetId = r.dataset.id;
  annotateRows(lib, { datasetId, indices: [3], addTags: ['first-copy'] });
  annotateRows(lib, { datasetId, indices: [10], addTags: ['second-copy'] });
  annotateRows(lib, { datasetId, indices: [7], rating: 5 });
  const tagsOf = (versionId: number) =>
    datasetRows(lib, { datasetId, versionId, limit: 100 }).meta.flatMap((m) =>
      m.tags.length || m.rating
        ? [[(readVersionRows(lib, versionId)[m.index] as { prompt: string }).prompt, m.tags, m.rating]]
        : [],
    );
  // Drop duplicates keeps the first copy (and its tag); the second copy's row is gone.
  const d = await dropDuplicates(lib, { datasetId });
  assert.deepEqual(d.removed, [10]);
  assert.ok(d.version);
  assert.equal(d.version.rowCount, 10);
  assert.deepEqual(tagsOf(d.version.id), [
    ['question 3', ['first-copy'], null],
    ['question 7', [], 5],
  ]);
  // Split parts keep the rows' ids.
  const s = splitDataset(lib, { datasetId, versionId: d.version.id, seed: 3 });
  const parts = [s.train, s.validation, s.test].filter((v) => v !== null);
  const found = parts.flatMap((v) => tagsOf(v.id));
  assert.deepEqual(found.sort(), [
    ['question 3', ['first-copy'], null],
    ['question 7', [], 5],
  ]);
  // Re-importing the file (one row changed) keeps the ids of the unchanged rows, copies included.
  const changed = file('ten.jsonl', [...rows.slice(0, 9), row('question 9', 'better answer'), rows[3]]);
  const again = importDataset(lib, { path: changed });
  assert.equal(again.dataset.id, datasetId);
  assert.deepEqual(tagsOf(again.version.id), [
    ['question 3', ['first-copy'], null],
    ['question 7', [], 5],
    ['question 3', ['second-copy'], null],
  ]);
  assert.notDeepEqual(versionRowIds(lib, again.version)[9], versionRowIds(lib, r.version)[9]);
  // An edit keeps the ids of the rows it keeps.
  const e = editDataset(lib, { datasetId, remove: [0] });
  assert.deepEqual(tagsOf(e.version.id), [
    ['question 3', ['first-copy'], null],
    ['question 7', [], 5],
    ['question 3', ['second-copy'], null],
  ]);
});

test("a version's row ids are stored 4 little-endian bytes each, new rows given the next ids", () => {
  const lib = open();
  const datasetId = importDataset(lib, { path: file('ids.jsonl', [row('a'), row('b')]) }).dataset.id;
  const [a, b] = versionRowIds(lib, getDataset(lib, datasetId).latest);
  const next = Math.max(a, b) + 1;
  const words = (bytes: Buffer) =>
    Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readUInt32LE(4 * i));
  const ids = writeTransaction(lib.db, () => allocateRowIds(lib, datasetId, [b, null, a, null]));
  assert.deepEqual(words(ids), [b, next, a, next + 1]);
  const more = writeTransaction(lib.db, () => allocateRowIds(lib, datasetId, [null]));
  assert.deepEqual(words(more), [next + 2], 'the ids given are not given again');
});

test('importing a file again adds a version to the dataset of that name; the same rows add nothing', () => {
  const lib = open();
  const path = file('persona.jsonl', [row('a'), row('b')]);
  const first = importDataset(lib, { path });
  assert.equal(first.action, 'created');
  assert.equal(first.dataset.name, 'persona');
  const same = importDataset(lib, { path });
  assert.equal(same.action, 'unchanged');
  assert.equal(same.version.id, first.version.id);
  file('persona.jsonl', [row('a'), row('b'), row('c')]);
  const second = importDataset(lib, { path });
  assert.equal(second.action, 'new-version');
  assert.equal(second.dataset.id, first.dataset.id);
  assert.equal(second.version.version, 2);
  assert.equal(listDatasets(lib).length, 1, 'one dataset called "persona", with two versions');
  assert.deepEqual(
    getDataset(lib, first.dataset.id).versions.map((v) => v.rowCount),
    [3, 2],
  );
  // Another name keeps them apart.
  const apart = importDataset(lib, { path, name: 'persona (copy)' });
  assert.equal(apart.action, 'created');
  assert.equal(listDatasets(lib).length, 2);
});

test('split ratios that do not add up to 1 are refused, naming the sum', () => {
  const lib = open();
  const r = importDataset(lib, {
    path: file(
      'r.jsonl',
      Array.from({ length: 10 }, (_, i) => row(`p${i}`)),
    ),
  });
  assert.throws(
    () =>
      splitDataset(lib, {
        datasetId: r.dataset.id,
        ratios: { train: 0.8, validation: 0.1, test: 0 },
      }),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.code === 'bad-split-ratios' &&
      /add up to 1.*= 0\.9\b/.test(e.message),
  );
  assert.throws(
    () => splitDataset(lib, { datasetId: r.dataset.id, ratios: { train: 2, validation: 1, test: 1 } }),
    (e: unknown) => e instanceof ValidationError && e.code === 'bad-split-ratios',
  );
  assert.equal(getDataset(lib, r.dataset.id).versions.length, 1, 'a refused split stores nothing');
  // Float rounding is not a mistake.
  const ok = splitDataset(lib, {
    datasetId: r.dataset.id,
    ratios: { train: 0.7, validation: 0.2, test: 0.1 },
  });
  assert.deepEqual([ok.train.rowCount, ok.validation?.rowCount, ok.test?.rowCount], [7, 2, 1]);
});

test('rejected lines are kept with the version: line, why and the line itself', () => {
  const lib = open();
  const path = file('bad.jsonl', [
    row('fine'),
    '{"prompt": "broken',
    { prompt: 'no completion' },
    row('also fine'),
  ]);
  const r = importDataset(lib, { path });
  assert.equal(r.version.rejectedCount, 2);
  const page = datasetRejects(lib, { datasetId: r.dataset.id });
  assert.equal(page.total, 2);
  assert.deepEqual(
    page.lines.map((l) => [l.line, l.text]),
    [
      [2, '{"prompt": "broken'],
      [3, '{"prompt":"no completion"}'],
    ],
  );
  assert.match(page.lines[0].message, /not valid JSON/);
  assert.doesNotMatch(page.lines[0].message, /broken/, 'the message never quotes the line');
  assert.match(page.lines[1].message, /completion/);
});

test('rows of a JSON list on one line: every rejected row is kept, named by its place', () => {
  const lib = open();
  const p = join(root, 'one-line.json');
  // json.dump's default: the whole list on line 1.
  writeFileSync(p, JSON.stringify([row('a'), { prompt: 'b', completion: 1 }, { prompt: 'c' }, row('d')]));
  const r = importDataset(lib, { path: p });
  assert.equal(r.version.rowCount, 2);
  // Before: both rejects were on line 1 and the second was dropped from the review; neither said
  // which row it was.
  assert.deepEqual(
    datasetRejects(lib, { datasetId: r.dataset.id }).lines.map((l) => [l.line, l.message]),
    [
      [1, 'row 2 of the list: "completion" must be a string'],
      [1, 'row 3 of the list: no completion (expected a "completion" or "output" field)'],
    ],
  );
});

test('an edit refuses a row of another format rather than dropping its fields', () => {
  const lib = open();
  const r = importDataset(lib, { path: file('edit-fmt.jsonl', [row('a'), row('b')]) });
  const alpaca = { instruction: 'Translate', input: 'hello', output: 'bonjour' };
  // Before: stored as {prompt: "hello", completion: "bonjour"}, the instruction gone.
  for (const edit of [{ set: [{ index: 0, row: alpaca }] }, { append: [alpaca] }])
    assert.throws(
      () => editDataset(lib, { datasetId: r.dataset.id, ...edit }),
      (e: unknown) =>
        e instanceof ValidationError && /is alpaca \(the dataset is prompt-completion\)$/.test(e.message),
    );
  assert.equal(getDataset(lib, r.dataset.id).versions.length, 1, 'nothing was stored');
});

test('an edit refuses a key the row cannot keep, naming it and the keys a row has, rather than dropping it', () => {
  const lib = open();
  const r = importDataset(lib, { path: file('edit-extra.jsonl', [row('a'), row('b')]) });
  const id = r.dataset.id;
  // Before: saved with no message, stored as {prompt, completion}: "extra" silently gone.
  const refused = (edit: Parameters<typeof editDataset>[1], message: string) =>
    assert.throws(
      () => editDataset(lib, edit),
      (e: unknown) => e instanceof ValidationError && e.code === 'bad-row' && e.message === message,
    );
  refused(
    { datasetId: id, set: [{ index: 0, row: { prompt: 'hello', completion: 'ahoy', extra: 1 } }] },
    'row 0: "extra" is not kept: a prompt-completion row has only "prompt" and "completion"; remove it',
  );
  refused(
    { datasetId: id, append: [{ prompt: 'hello', input: 'x', completion: 'ahoy' }] },
    'appended row 0: "input" is not kept: a prompt-completion row has only "prompt" and "completion"; remove it',
  );
  assert.equal(getDataset(lib, id).versions.length, 1, 'nothing was stored');
  // The aliases an import reads are still read (and stored under the row's own keys).
  const ok = editDataset(lib, { datasetId: id, set: [{ index: 0, row: { input: 'hi', output: 'yo' } }] });
  assert.deepEqual(readVersionRows(lib, ok.version.id)[0], { prompt: 'hi', completion: 'yo' });
  const chat = createDataset(lib, {
    name: 'talk',
    rows: [
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
  });
  refused(
    {
      datasetId: chat.dataset.id,
      set: [
        {
          index: 0,
          row: {
            messages: [
              { role: 'user', content: 'a', name: 'me' },
              { role: 'assistant', content: 'b' },
            ],
          },
        },
      ],
    },
    'row 0: messages[0] "name" is not kept: a message has only "role" and "content"; remove it',
  );
});

test('a dataset made from rows: one format, a name no other dataset has, nothing stored if refused', () => {
  const lib = open();
  const chat = {
    messages: [
      { role: 'user', content: 'Ahoy' },
      { role: 'assistant', content: 'Arr\n' },
    ],
  };
  const r = createDataset(lib, { name: ' Picks ', rows: [chat], note: 'from the Playground' });
  assert.equal(r.dataset.name, 'Picks');
  assert.deepEqual([r.version.version, r.version.format, r.version.rowCount], [1, 'chat', 1]);
  assert.equal(readFileSync(r.version.filePath, 'utf8'), `${JSON.stringify(chat)}\n`);
  const refused = (c: Parameters<typeof createDataset>[1], code: string, message: RegExp) =>
    assert.throws(
      () => createDataset(lib, c),
      (e: unknown) => e instanceof ValidationError && e.code === code && message.test(e.message),
    );
  refused(
    { name: 'Picks', rows: [chat] },
    'name-taken',
    /^a dataset called "Picks" already exists \(id \d+\)/,
  );
  refused(
    { name: 'Mixed', rows: [chat, row('a')] },
    'bad-row',
    /^row 1: is prompt-completion \(the dataset is chat\)$/,
  );
  refused(
    { name: 'Odd', rows: [{ text: 'hi' }] },
    'bad-row',
    /^row 0: not a prompt-completion, alpaca or chat row/,
  );
  assert.deepEqual(
    listDatasets(lib).map((d) => d.name),
    ['Picks'],
  );
});

test('an import counts every row it left out, not only the ones it lists', () => {
  const lib = open();
  const bad = Array.from({ length: 1200 }, (_, i) => ({ prompt: `p${i}`, completion: i }));
  const r = importDataset(lib, { path: file('many-bad.jsonl', [row('fine'), ...bad]) });
  assert.equal(r.rejected.length, 1000, 'the first 1000 are listed');
  // Before: only r.rejected (capped at 1000) said how many; the CLI printed "1000 bad rows skipped".
  assert.equal(r.rejectedCount, 1200);
  assert.equal(r.version.rejectedCount, 1200);
  const again = importDataset(lib, { path: file('many-bad.jsonl', [row('fine'), ...bad]) });
  assert.equal(again.action, 'unchanged');
  assert.equal(again.rejectedCount, 1200);
});

test('rename refuses a name another dataset has; split selectors name parts; held-out data is checked', () => {
  const lib = open();
  const a = importDataset(lib, {
    path: file(
      'a.jsonl',
      Array.from({ length: 20 }, (_, i) => row(`a${i}`)),
    ),
  });
  const b = importDataset(lib, { path: file('b.jsonl', [row('b')]) });
  assert.throws(
    () => renameDataset(lib, b.dataset.id, ' a '),
    (e: unknown) => e instanceof ValidationError && e.code === 'name-taken',
  );
  assert.equal(renameDataset(lib, b.dataset.id, 'bee').name, 'bee');
  const datasetId = a.dataset.id;
  assert.throws(
    () => resolveDatasetVersion(lib, { datasetId, split: 'train' }),
    (e: unknown) => e instanceof ValidationError && e.code === 'no-split' && /split it/.test(e.message),
  );
  const s1 = splitDataset(lib, { datasetId, seed: 1 });
  const s2 = splitDataset(lib, { datasetId, seed: 2 });
  assert.equal(resolveDatasetVersion(lib, { datasetId, split: 'train' }).id, s2.train.id, 'the newest split');
  assert.equal(
    resolveDatasetVersion(lib, { datasetId, versionId: s1.train.id, split: 'validation' }).id,
    s1.validation?.id,
    'the part cut with the given one',
  );
  const plan = planRunData(lib, { datasetId, datasetVersionId: s1.train.id, evalDatasetSplit: 'validation' });
  assert.deepEqual([plan.version.id, plan.evalVersion?.id], [s1.train.id, s1.validation?.id]);
  assert.equal(
    planRunData(lib, { datasetId, datasetSplit: 'train', evalDatasetSplit: 'test' }).evalVersion?.id,
    s2.test?.id,
  );
  assert.throws(
    () => planRunData(lib, { datasetId, datasetSplit: 'train', evalDatasetVersionId: s2.train.id }),
    (e: unknown) => e instanceof ValidationError && e.code === 'eval-is-train',
  );
});

test('a library from before row ids: versions get ids on first read, content annotations move to rows', () => {
  const lib = open();
  const r = importDataset(lib, { path: file('old.jsonl', [row('x'), row('y'), row('x')]) });
  const e = editDataset(lib, { datasetId: r.dataset.id, append: [row('z')] });
  // As an older library had it: no row ids, annotations keyed by content hash.
  lib.db.prepare('DELETE FROM dataset_version_rows').run();
  lib.db.prepare('DELETE FROM dataset_row_annotations').run();
  lib.db.prepare('UPDATE datasets SET next_row_id = 0').run();
  lib.db
    .prepare(
      'INSERT INTO dataset_row_meta (dataset_id, row_hash, rating, tags_json, note, updated_at) VALUES (?, ?, 4, \'["old"]\', NULL, 1)',
    )
    .run(r.dataset.id, rowHash(row('x')));
  const page = datasetRows(lib, { datasetId: r.dataset.id, versionId: e.version.id });
  assert.deepEqual(
    page.meta.map((m) => [m.index, m.rating, m.tags]),
    [
      [0, 4, ['old']],
      [1, null, []],
      [2, 4, ['old']],
      [3, null, []],
    ],
  );
  assert.deepEqual(
    versionRowIds(lib, e.version).slice(0, 3),
    versionRowIds(lib, r.version),
    'the edit inherited',
  );
  assert.equal((lib.db.prepare('SELECT COUNT(*) AS n FROM dataset_row_meta').get() as { n: number }).n, 0);
  // From now on each copy is its own row.
  annotateRows(lib, { datasetId: r.dataset.id, versionId: e.version.id, indices: [2], removeTags: ['old'] });
  assert.deepEqual(
    datasetRows(lib, { datasetId: r.dataset.id, versionId: e.version.id, tag: 'old' }).meta.map(
      (m) => m.index,
    ),
    [0],
  );
});
