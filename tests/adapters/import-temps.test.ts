// An adapter import cleans up what killed imports left (`.<name>.<hex>.import` folders), but only
// once they are old: a fresh one may be another process's import in progress (the CLI beside
// `serve`), and an import used to delete every such folder, and writeFolderAtomic's `.tmp`/`.old`
// ones too — another process's adapter write in flight, or an `.old` folder that is the only copy
// of an adapter, which the start-up sweep puts back.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { F2L2, LLAMA, openTempLibrary } from './helpers.ts';

function folder(path: string, ageMs = 0): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'manifest.json'), '{}');
  const t = new Date(Date.now() - ageMs);
  utimesSync(path, t, t);
  return path;
}

test('an import leaves other processes’ fresh temp folders and every .old folder alone', () => {
  const lib = openTempLibrary();
  try {
    const root = join(lib.dataDir, 'adapters');
    const hour = 60 * 60_000;
    const inFlight = folder(join(root, '.pirate-1a2b3c4d.0123456789ab.import'));
    const stale = folder(join(root, '.parrot-1a2b3c4d.0123456789ab.import'), hour);
    const writing = folder(join(root, '.run-7.0123456789ab.tmp'));
    // A crash between writeFolderAtomic's two renames: run-9 exists only as its .old folder.
    const onlyCopy = folder(join(root, '.run-9.0123456789ab.old'));
    const model = addModel(lib, { path: LLAMA });
    importAdapter(lib, { path: F2L2, model: model.id, positions: 'f2+l2' });
    assert.ok(existsSync(inFlight), 'a fresh import temp (another process) stays');
    assert.ok(!existsSync(stale), 'an hour-old import temp is removed');
    assert.ok(existsSync(writing), "another process's folder write in flight stays");
    assert.ok(existsSync(onlyCopy), 'the only copy of run-9 is not deleted');
    // Once old, the start-up sweep removes the import temp and puts run-9 back.
    for (const p of [inFlight, onlyCopy])
      utimesSync(p, new Date(Date.now() - hour), new Date(Date.now() - hour));
    closeLibrary(lib);
    const again = openLibrary(lib.dataDir);
    closeLibrary(again);
    assert.ok(!existsSync(inFlight));
    assert.ok(existsSync(join(root, 'run-9', 'manifest.json')), 'run-9 put back');
  } finally {
    closeLibrary(lib);
  }
});
