// Every CLI listing with names in it (runs, adapters and an adapter's evaluations, datasets, models,
// a models scan) lined up in terminal columns and kept to 80: names in CJK (two columns a
// character), with emoji and ZWJ sequences (one two-column picture of several code points), with
// combining accents (no column of their own), and 200 characters long.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { displayWidth } from '../../cli/display-width.ts';
import { registerAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { createEvaluation, finishEvaluation } from '../../electron/backend/library/evaluations.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const root = tempDir('reft-listing-widths-');
const dataDir = join(root, 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAMES = [
  'plain name',
  '日本語の名前', // 12 columns in 6 characters
  '👨‍👩‍👧‍👦 family 🧑‍💻 🇯🇵', // ZWJ sequences and a flag: 3 pictures, 19 code points
  'Cafe\u0301 cre\u0300me bru\u0302le\u0301e', // 15 columns in 19 code points
  'x'.repeat(200),
  '名'.repeat(200), // 400 columns
];
/** Folder names can hold fewer bytes than a name: 255, 3 a CJK character. */
const FOLDER_NAMES = NAMES.map((n) => (n.startsWith('名') ? '名'.repeat(80) : n));

/** Where each cell of a table line starts, in terminal columns (cells are 2 or more spaces apart). */
function cellStarts(line: string): number[] {
  return Array.from(line.matchAll(/(?:\S| (?! ))+/g), (m) => displayWidth(line.slice(0, m.index)));
}

/**
 * The table's lines (its header first) each in 80 columns — or, where `folderLast`, wider only by a
 * folder kept whole, the NAME column then at its least (12) — every cell starting where its header does.
 */
function checkTable(lines: string[], opts: { folderLast?: boolean; anyWidth?: boolean } = {}): void {
  const heads = cellStarts(lines[0]);
  for (const line of lines) {
    const starts = cellStarts(line);
    assert.deepEqual(starts, heads, `aligned with the header:\n${lines[0]}\n${line}`);
    assert.doesNotMatch(line, LONE_SURROGATE);
    const nameWidth = starts[2] - starts[1] - 2;
    if (opts.anyWidth) continue;
    if (opts.folderLast)
      assert.ok(displayWidth(line) <= 80 || nameWidth === 12, `fits 80 but its folder: ${line}`);
    else assert.ok(displayWidth(line) <= 80, `${displayWidth(line)} columns: ${line}`);
  }
}

/** The header matching `header` and the row of each name under it. */
const tableLines = (out: string, header: RegExp): string[] => {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => header.test(l));
  assert.ok(at >= 0, `a header ${header} in:\n${out}`);
  return lines.slice(at, at + 1 + NAMES.length);
};

/** A copy of the llama fixture in a folder of that name (one folder is one model in the library). */
function modelCopy(under: string, name: string): string {
  const dir = join(root, under, name);
  mkdirSync(dir, { recursive: true });
  cpSync(modelDir('llama'), dir, { recursive: true });
  return dir;
}

const modelIds = FOLDER_NAMES.map(
  (f, i) => addModel(lib, { path: modelCopy('library', f), name: NAMES[i] }).id,
);
const datasetVersions = NAMES.map((name, i) => {
  const file = join(root, `data-${i}.jsonl`);
  writeFileSync(file, `${JSON.stringify({ prompt: 'p', completion: 'c' })}\n`);
  return importDataset(lib, { path: file, name }).version.id;
});

test('runs list: every name lined up by its display width, in 80 columns', async () => {
  // Bug: names were measured in code points: the CJK row's later columns stood 6 columns right of
  // the header's, the accented one's 4 left, and a ZWJ family counted as 7.
  for (const [i, name] of NAMES.entries()) createRun(lib, { name, modelId: modelIds[i] });
  const list = await cli('runs', 'list');
  assert.equal(list.code, 0, list.err);
  const lines = tableLines(list.out, /^ID +NAME +STATUS/);
  checkTable(lines);
});

test('adapters list in 80 columns, an adapter’s evaluations whole: names and tags lined up', async () => {
  // Bug: the adapters table was as wide as its widest name: 200 columns and more.
  const ids = NAMES.map(
    (name, i) =>
      registerAdapter(lib, {
        name,
        path: join(dataDir, 'adapters', `a${i}`),
        type: 'loreft',
        baseModelFingerprint: 'f'.repeat(64),
        tags: [`tag-${FOLDER_NAMES[i].slice(0, 20)}`],
      }).id,
  );
  const list = await cli('adapters', 'list');
  assert.equal(list.code, 0, list.err);
  const lines = tableLines(list.out, /^ID +NAME +TYPE/);
  checkTable(lines);

  for (const versionId of datasetVersions) {
    const e = createEvaluation(lib, {
      adapterId: ids[0],
      modelId: null,
      datasetVersionId: versionId,
      kind: 'loss',
    });
    finishEvaluation(lib, e.id, { status: 'completed', metrics: { loss: 1.5 }, examples: 1 });
  }
  const show = await cli('adapters', 'show', String(ids[0]));
  assert.equal(show.code, 0, show.err);
  // `show` is the detail view: its evaluations are lined up but never cut (names are read whole there).
  const evaluations = tableLines(show.out, /^ID +KIND +STATUS +DATA/);
  checkTable(evaluations, { anyWidth: true });
  assert.ok(
    evaluations.some((l) => l.includes('名'.repeat(200))),
    'the longest data name whole',
  );
});

test('datasets list: every name lined up, in 80 columns', async () => {
  const list = await cli('datasets', 'list');
  assert.equal(list.code, 0, list.err);
  const lines = tableLines(list.out, /^ID +NAME +FORMAT/);
  checkTable(lines);
});

test('models list and models scan: names lined up and cut, each folder whole', async () => {
  const list = await cli('models', 'list');
  assert.equal(list.code, 0, list.err);
  const lines = tableLines(list.out, /^ID +NAME +ARCH/);
  checkTable(lines, { folderLast: true });
  for (const f of FOLDER_NAMES)
    assert.ok(
      lines.some((l) => l.endsWith(join(root, 'library', f))),
      f,
    );

  for (const f of FOLDER_NAMES) modelCopy('scan', f);
  const scan = await cli('models', 'scan', join(root, 'scan'));
  assert.equal(scan.code, 0, scan.err);
  const found = tableLines(scan.out, /^ +NAME +ARCH/);
  checkTable(
    found.map((l) => l.replace(/^ {4}/, '-   ')), // the header's first cell is empty
    { folderLast: true },
  );
});
