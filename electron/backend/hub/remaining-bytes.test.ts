// remainingBytes, as models/hub-info reads it while the same repository downloads: a partial file
// renamed into its blob between the check that it exists and reading its size made the preview fail
// with a raw "ENOENT: no such file or directory, stat '….incomplete'".

import assert from 'node:assert/strict';
import fs, { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { blobPath } from './cache.ts';
import type { HubFile } from './client.ts';
import { remainingBytes } from './download.ts';

test('a partial file that a finishing download renames meanwhile is no error', () => {
  const cacheDir = tempDir('remaining-bytes-');
  const f: HubFile = { path: 'model.onnx', size: 10, etag: 'a'.repeat(64), lfs: true };
  const blob = blobPath(cacheDir, 'org/model', f.etag);
  mkdirSync(dirname(blob), { recursive: true });
  writeFileSync(`${blob}.incomplete`, 'abcd');
  assert.equal(remainingBytes(cacheDir, 'org/model', f), 6);

  // The download renames the partial file just before its size is read (after the blob was checked).
  const stat = fs.statSync;
  // fs.statSync is declared read-only; node:fs lets a test replace it (syncBuiltinESMExports).
  const patchable = fs as unknown as { statSync: typeof fs.statSync };
  patchable.statSync = ((path: fs.PathLike, opts?: fs.StatSyncOptions) => {
    if (String(path).endsWith('.incomplete')) renameSync(String(path), `${blob}.renamed`);
    return stat(path, opts);
  }) as typeof fs.statSync;
  syncBuiltinESMExports();
  try {
    assert.equal(remainingBytes(cacheDir, 'org/model', f), 10);
  } finally {
    patchable.statSync = stat;
    syncBuiltinESMExports();
  }
});
