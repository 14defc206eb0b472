// A frozen file is made durable as it is written: its writer syncs every few megabytes, so that
// finishing it (the last, unsliced step of an edit or a split on the RPC loop) syncs only the rest.
// A 1M-row version's file (~80 MB) synced at once held that step ~50 ms.

import assert from 'node:assert/strict';
import fs, { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { FrozenFileWriter } from './frozen-files.ts';

test('a frozen file is synced as it is written, leaving finish() at most ~9 MB to sync', () => {
  const dataDir = tempDir('reft-frozen-sync-');
  // The bytes written since the previous sync, at each sync of the file (not of its folder).
  const synced: number[] = [];
  let last = 0;
  const fsync = fs.fsyncSync;
  fs.fsyncSync = (fd: number) => {
    const stat = fs.fstatSync(fd);
    if (stat.isFile()) {
      synced.push(stat.size - last);
      last = stat.size;
    }
    fsync(fd);
  };
  syncBuiltinESMExports();
  try {
    const w = new FrozenFileWriter(dataDir);
    const line = Buffer.from(JSON.stringify({ prompt: 'p'.repeat(500), completion: 'c'.repeat(500) }));
    const rows = 40_000; // ~40 MB
    for (let i = 0; i < rows; i++) w.writeLine(line);
    const file = w.finish();
    assert.equal(file.sizeBytes, rows * (line.length + 1));
    assert.equal(
      synced.reduce((a, b) => a + b, 0),
      file.sizeBytes,
      'every byte synced',
    );
    assert.ok(synced.length >= 4, `${synced.length} syncs`);
    assert.ok(Math.max(...synced) <= 9 << 20, `${Math.max(...synced)} bytes synced at once`);
    assert.equal(readFileSync(join(dataDir, file.rel)).length, file.sizeBytes);
  } finally {
    fs.fsyncSync = fsync;
    syncBuiltinESMExports();
  }
});
