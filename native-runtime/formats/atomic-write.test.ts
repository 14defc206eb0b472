import assert from 'node:assert/strict';
import fs, {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import {
  removeFolderAtomic,
  renameRetrying,
  sweepFolderLeftovers,
  sweepTempFiles,
  writeFileAtomic,
  writeFolderAtomic,
} from './atomic-write.ts';

test('writeFolderAtomic replaces a folder whole, and a failed write leaves it untouched', () => {
  const dir = join(tempDir('atomic-'), 'out');
  writeFolderAtomic(dir, [
    ['a.txt', 'one'],
    ['b.txt', 'two'],
  ]);
  writeFolderAtomic(dir, [['a.txt', 'three']]);
  assert.deepEqual(readdirSync(dir), ['a.txt']);
  assert.throws(
    () =>
      writeFolderAtomic(dir, [
        ['ok.txt', 'x'],
        ['../evil', 'x'],
      ]),
    { code: 'bad-file-name' },
  );
  assert.deepEqual(readdirSync(dir), ['a.txt']);
  assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'three');
  assert.deepEqual(readdirSync(join(dir, '..')), ['out']); // no temp folders left behind
});

test('a failed writeFolderAtomic removes the parent folders it made, and only those', () => {
  // A bundle refused for its data (the data file is read while data.jsonl is written) left the
  // empty folders made for its --out behind.
  const root = tempDir('atomic-parents-');
  mkdirSync(join(root, 'kept'));
  const fail = (): void => {
    throw new Error('bad row');
  };
  assert.throws(
    () => writeFolderAtomic(join(root, 'kept', 'new', 'deeper', 'out'), [['a', fail]]),
    /bad row/,
  );
  assert.deepEqual(readdirSync(root), ['kept'], 'the folder that was there stays');
  assert.deepEqual(readdirSync(join(root, 'kept')), [], 'the ones made for the write go');
  // A folder something else wrote into meanwhile is not removed.
  const sharing = join(root, 'kept', 'shared');
  assert.throws(
    () =>
      writeFolderAtomic(join(sharing, 'out'), [
        [
          'a',
          () => {
            writeFileSync(join(sharing, 'other.txt'), 'x');
            fail();
          },
        ],
      ]),
    /bad row/,
  );
  assert.deepEqual(readdirSync(sharing), ['other.txt']);
});

test('writeFolderAtomic survives another writer removing the parent both made meanwhile', () => {
  // Another process's failed write (the CLI beside `serve`) removes the empty parent it made; when
  // that fell between this write's making the parent and its temp folder, this write failed with a
  // raw "ENOENT: no such file or directory, mkdir …". That interleaving is made here at will: the
  // parent goes just before the temp folder is made.
  const root = tempDir('atomic-race-');
  const mkdir = fs.mkdirSync;
  let raced = 0;
  const racedAt = new Set<string>();
  fs.mkdirSync = ((path: fs.PathLike, opts?: fs.MakeDirectoryOptions) => {
    // Once per temp folder: the other writer removes the parents once, not on every try.
    if (basename(String(path)).startsWith('.out.') && !racedAt.has(String(path))) {
      racedAt.add(String(path));
      raced++;
      rmdirSync(dirname(String(path)));
      rmdirSync(dirname(dirname(String(path))));
    }
    return mkdir(path, opts);
  }) as typeof fs.mkdirSync;
  syncBuiltinESMExports();
  try {
    writeFolderAtomic(join(root, 'new', 'sub', 'out'), [['a.txt', 'x']]);
    assert.equal(readFileSync(join(root, 'new', 'sub', 'out', 'a.txt'), 'utf8'), 'x');
    // A failed write removes the parents it made again, as those it made first.
    assert.throws(
      () =>
        writeFolderAtomic(join(root, 'other', 'sub', 'out'), [
          [
            'a',
            () => {
              throw new Error('bad row');
            },
          ],
        ]),
      /bad row/,
    );
    assert.deepEqual(readdirSync(root), ['new']);
  } finally {
    fs.mkdirSync = mkdir;
    syncBuiltinESMExports();
  }
  assert.equal(raced, 2);
});

/** Makes `path` look `ageMs` old to the sweep. */
function age(path: string, ageMs = 60 * 60_000): void {
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

test('the start-up sweep removes what killed writers left, and puts a moved-aside folder back', () => {
  const root = tempDir('sweep-');
  const runs = join(root, 'runs', '7');
  mkdirSync(runs, { recursive: true });
  // A writeFolderAtomic killed while writing its temp folder: removed.
  const tmpFolder = join(runs, '.checkpoint.0123456789ab.tmp');
  mkdirSync(tmpFolder);
  writeFileSync(join(tmpFolder, 'state.json'), '{}');
  age(tmpFolder);
  // Killed between moving the old folder aside and renaming the new one in: the target is missing,
  // so the old folder is the only copy and is put back.
  const aside = join(runs, '.adapter.abcdefabcdef.old');
  mkdirSync(aside);
  writeFileSync(join(aside, 'manifest.json'), '{"kept":true}');
  age(aside);
  // Killed after the new folder was in place: the old copy is garbage.
  writeFolderAtomic(join(runs, 'final'), [['x.txt', 'new']]);
  const stale = join(runs, '.final.fedcba987654.old');
  mkdirSync(stale);
  age(stale);
  // A temp file of writeFileAtomic, and a fresh temp folder of a writer still at work elsewhere.
  const tmpFile = join(root, 'library.json.0123456789ab.tmp');
  writeFileSync(tmpFile, 'partial');
  age(tmpFile);
  const busy = join(runs, '.busy.00000000aaaa.tmp');
  mkdirSync(busy);

  assert.equal(sweepTempFiles(root), 4);
  assert.deepEqual(readdirSync(runs).sort(), ['.busy.00000000aaaa.tmp', 'adapter', 'final']);
  assert.equal(readFileSync(join(runs, 'adapter', 'manifest.json'), 'utf8'), '{"kept":true}');
  assert.equal(readFileSync(join(runs, 'final', 'x.txt'), 'utf8'), 'new');
  assert.deepEqual(readdirSync(root).sort(), ['runs']);
});

test("sweepFolderLeftovers clears one folder's leftovers beside it, and nothing else there", () => {
  // An export's parent is a person's folder: no start-up sweep looks there, and nothing but what a
  // killed write of this very folder left may be touched.
  const parent = tempDir('leftovers-');
  const made = (name: string, file: string, ageIt = true) => {
    mkdirSync(join(parent, name));
    writeFileSync(join(parent, name, file), file);
    if (ageIt) age(join(parent, name));
  };
  made('.out.0123456789ab.tmp', 'new.txt'); // killed while writing, or just before its rename
  made('.out.0123456789ab.old', 'previous.txt'); // killed between the two renames: the only copy
  made('.out.fedcba987654.tmp', 'busy.txt', false); // another process's write in progress
  made('.other.0123456789ab.tmp', 'theirs.txt'); // another folder's
  symlinkSync(join(parent, '.other.0123456789ab.tmp'), join(parent, '.out.00000000aaaa.tmp'));
  assert.equal(sweepFolderLeftovers(join(parent, 'out')), 2);
  assert.deepEqual(readdirSync(parent).sort(), [
    '.other.0123456789ab.tmp',
    '.out.00000000aaaa.tmp',
    '.out.fedcba987654.tmp',
    'out',
  ]);
  assert.deepEqual(readdirSync(join(parent, 'out')), ['previous.txt'], 'the moved-aside copy is back');
  assert.equal(sweepFolderLeftovers(join(parent, 'missing-parent', 'out')), 0);
});

test('writeFileAtomic leaves no temp file and replaces the target', () => {
  const dir = tempDir('atomic-file-');
  const p = join(dir, 'f.json');
  writeFileAtomic(p, 'one');
  writeFileAtomic(p, 'two');
  assert.equal(readFileSync(p, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['f.json']);
});

test('writeFileAtomic into a missing folder names the file asked for, not its temp sibling', () => {
  const path = join(tempDir('atomic-'), 'no', 'such', 'out.safetensors');
  assert.throws(
    () => writeFileAtomic(path, 'x'),
    (e: Error & { code?: string }) =>
      e.code === 'missing-folder' &&
      e.message === `cannot write ${path}: the folder ${join(path, '..')} does not exist`,
  );
});

test('writeFileAtomic onto a folder says so and leaves no temp file beside it', () => {
  const dir = tempDir('atomic-');
  const path = join(dir, 'out');
  mkdirSync(path);
  assert.throws(
    () => writeFileAtomic(path, 'x'),
    (e: Error & { code?: string }) =>
      e.code === 'not-a-file' && e.message === `cannot write ${path}: it is a folder; give a file name`,
  );
  assert.deepEqual(readdirSync(dir), ['out']);
  assert.deepEqual(readdirSync(path), []);
});

test('removeFolderAtomic takes the folder away under its name at once; a missing one is no error', () => {
  const root = tempDir('remove-');
  writeFolderAtomic(join(root, 'step-000004'), [
    ['a.bin', 'x'],
    ['b.json', '{}'],
  ]);
  writeFolderAtomic(join(root, 'step-000008'), [['a.bin', 'y']]);
  removeFolderAtomic(join(root, 'step-000004'));
  removeFolderAtomic(join(root, 'step-000004'));
  assert.deepEqual(readdirSync(root), ['step-000008']);
  // What a removal killed mid-way leaves (its temp name) is cleared by the sweep, never put back.
  const left = join(root, '.step-000002.0123456789ab.tmp');
  mkdirSync(left);
  writeFileSync(join(left, 'a.bin'), 'z');
  age(left);
  assert.equal(sweepTempFiles(root), 1);
  assert.deepEqual(readdirSync(root), ['step-000008']);
});

test('a rename Windows refuses for a moment (a scanner holding the file) is retried there only', () => {
  const busy = (times: number, code = 'EPERM') => {
    let calls = 0;
    const rename = () => {
      calls++;
      if (calls <= times) throw Object.assign(new Error(`${code}: operation not permitted`), { code });
    };
    return { rename, calls: () => calls };
  };
  const held = busy(2);
  renameRetrying('a', 'b', 'win32', held.rename);
  assert.equal(held.calls(), 3);
  // Elsewhere, or another error, or a file held for good: the first answer stands.
  const linux = busy(1);
  assert.throws(() => renameRetrying('a', 'b', 'linux', linux.rename), { code: 'EPERM' });
  assert.equal(linux.calls(), 1);
  const missing = busy(1, 'ENOENT');
  assert.throws(() => renameRetrying('a', 'b', 'win32', missing.rename), { code: 'ENOENT' });
  assert.equal(missing.calls(), 1);
  const forGood = busy(100, 'EBUSY');
  assert.throws(() => renameRetrying('a', 'b', 'win32', forGood.rename), { code: 'EBUSY' });
  assert.equal(forGood.calls(), 8);
});
