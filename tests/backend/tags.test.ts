// One rule for tags wherever they are entered: a comma separates tags. Before, "pirate,best" typed in a
// row's or an adapter's tag box (or given to `adapters tag`, `import --tag`) became one tag holding a
// comma, which `adapters list` (tags joined with commas) showed as two tags, and which a filter by
// either of them never found.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  getAdapter,
  listAdapters,
  registerAdapter,
  tagAdapter,
} from '../../electron/backend/library/adapters.ts';
import { annotateRows } from '../../electron/backend/library/dataset-annotations.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { datasetRows } from '../../electron/backend/library/dataset-rows.ts';
import { closeLibrary, type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { matchesTag, tagDraftProblem, tagsToAdd, tagsToRemove } from '../../electron/backend/library/tags.ts';
import type { ValidationError } from '../../native-runtime/errors.ts';
import { tempDir } from '../helpers/temp.ts';
import { runCli } from './helpers.ts';

const root = tempDir('reft-tags-');
let n = 0;
const open = (): Library => openLibrary(join(root, `lib-${n++}`));

test('the rule: commas separate tags; blanks and repeats go; a tag of 65 characters is refused', () => {
  assert.deepEqual(tagsToAdd(['pirate, best', ' v1 ', 'best,,']), ['pirate', 'best', 'v1']);
  assert.throws(() => tagsToAdd([' , ']), {
    code: 'bad-tag',
    message: 'a tag must be 1 to 64 characters (a comma separates tags)',
  });
  for (const bad of [['x'.repeat(65)], ['ok, '.concat('y'.repeat(65))]]) {
    assert.throws(
      () => tagsToAdd(bad),
      (e: ValidationError) => e.code === 'bad-tag' && /a tag must be 1 to 64 characters/.test(e.message),
    );
  }
  // A tag stored before the rule, comma and all, is still removed and found by its whole text.
  assert.deepEqual(tagsToRemove(['a,b'], ['a,b', 'a']), ['a,b']);
  assert.deepEqual(tagsToRemove(['a, b'], ['a', 'b', 'c']), ['a', 'b']);
  assert.ok(matchesTag(['a,b'], 'a,b'));
  assert.ok(matchesTag(['a', 'b', 'c'], 'a, b'));
  assert.ok(!matchesTag(['a'], 'a, b'));
  // Removing, an entry that names no tag is refused as adding it is (it removed nothing, silently).
  assert.throws(() => tagsToRemove([',,'], ['a']), {
    code: 'bad-tag',
    message: 'a tag must be 1 to 64 characters (a comma separates tags)',
  });
  // The tag boxes judge a draft by the same rule, in the same words.
  assert.equal(tagDraftProblem(' , '), 'a tag must be 1 to 64 characters (a comma separates tags)');
  assert.match(tagDraftProblem('x'.repeat(65)) ?? '', /is 65\)$/);
  assert.equal(tagDraftProblem('pirate, best'), null);
});

test('a tag holds no control or text-direction characters, as names do (names.ts)', () => {
  for (const bad of ['two\nlines', 'esc\u009b31m', 'nel\u0085'])
    assert.throws(() => tagsToAdd(['ok', bad]), {
      code: 'bad-tag',
      message: 'a tag cannot hold control characters',
    });
  assert.throws(() => tagsToAdd(['best\u202etsrow']), {
    code: 'bad-tag',
    message: 'a tag cannot hold a text-direction character (U+202E), which can make it read as another',
  });
  assert.equal(
    tagDraftProblem('x\u2067y'),
    'a tag cannot hold a text-direction character (U+2067), which can make it read as another',
  );
  // A tag stored before the rule is still removed by its text.
  assert.deepEqual(tagsToRemove(['a\u202eb'], ['a\u202eb']), ['a\u202eb']);
});

test("a dataset row's tags: typed with a comma, two tags, found by either", () => {
  const lib = open();
  const file = join(root, 'rows.jsonl');
  writeFileSync(file, '{"prompt":"p1","completion":"c1"}\n{"prompt":"p2","completion":"c2"}\n');
  const { dataset } = importDataset(lib, { path: file });
  const [meta] = annotateRows(lib, { datasetId: dataset.id, indices: [0], addTags: ['pirate,best'] });
  assert.deepEqual(meta?.tags, ['best', 'pirate']);
  for (const tag of ['pirate', 'best', 'best, pirate']) {
    assert.deepEqual(
      datasetRows(lib, { datasetId: dataset.id, tag }).meta.map((m) => m.index),
      [0],
      `filter "${tag}"`,
    );
  }
  const [after] = annotateRows(lib, { datasetId: dataset.id, indices: [0], removeTags: ['pirate, best'] });
  assert.deepEqual(after?.tags, []);
  closeLibrary(lib);
});

test("an adapter's tags: the same in the library and from the CLI (adapters tag, adapters list)", async () => {
  const lib = open();
  const dir = join(lib.dataDir, 'adapters', 'a1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{}');
  const a = registerAdapter(lib, {
    name: 'pirate',
    path: dir,
    type: 'loreft',
    baseModelFingerprint: 'f',
    tags: ['v1,v2'],
  });
  assert.deepEqual(a.tags, ['v1', 'v2']);
  assert.deepEqual(tagAdapter(lib, a.id, { add: ['best, fast'] }).tags, ['best', 'fast', 'v1', 'v2']);
  assert.deepEqual(
    listAdapters(lib, { tag: 'fast' }).map((x) => x.id),
    [a.id],
  );
  const dataDir = lib.dataDir;
  closeLibrary(lib);
  const env = { REFT_STUDIO_HOME: dataDir };
  const tagged = await runCli(
    ['adapters', 'tag', String(a.id), 'red,blue', '--json', '--data-dir', dataDir],
    env,
  );
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.deepEqual(JSON.parse(tagged.stdout).tags, ['best', 'blue', 'fast', 'red', 'v1', 'v2']);
  const untagged = await runCli(
    ['adapters', 'untag', String(a.id), 'red,blue,v1', '--data-dir', dataDir],
    env,
  );
  assert.equal(untagged.code, 0, untagged.stderr);
  for (const remove of [
    ['tag', String(a.id), ',,', '--remove'],
    ['untag', String(a.id), ' , '],
  ]) {
    const refused = await runCli(['adapters', ...remove, '--data-dir', dataDir], env);
    assert.equal(refused.code, 2, `${remove.join(' ')}: ${refused.stderr}`);
    assert.equal(refused.stderr, 'error: a tag must be 1 to 64 characters (a comma separates tags)\n');
  }
  const listed = await runCli(['adapters', 'list', '--tag', 'v2', '--data-dir', dataDir], env);
  assert.match(listed.stdout, /best,fast,v2/);
  const back = openLibrary(dataDir);
  assert.deepEqual(getAdapter(back, a.id).tags, ['best', 'fast', 'v2']);
  closeLibrary(back);
});
