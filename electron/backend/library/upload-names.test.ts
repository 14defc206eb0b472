// Uploaded file names as the backend's file system holds them, for a backend on Windows or macOS
// tested on Linux (the platform is passed in; the files are real). A name Windows cannot hold, or
// two names that are one file where names ignore case, must be refused before anything is written:
// "a:b.jsonl" became an NTFS stream of a file "a", and "A.bin" then "a.bin" left one file holding
// the second's bytes under both names.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { tempDir } from '../../../tests/helpers/temp.ts';
import type { Library } from './library.ts';
import { beginUpload, checkUploadPath } from './transfers.ts';
import { unpackZip } from './unpack-zip.ts';

test('names Windows cannot hold are refused by a backend on Windows only', () => {
  for (const name of [
    'notes: v2.jsonl',
    'data/what?.jsonl',
    'CON',
    'nul.txt',
    'com1.json',
    'data.',
    'data ',
  ]) {
    assert.throws(() => checkUploadPath(name, 'win32'), /cannot accept the file .*Windows/, name);
    assert.equal(checkUploadPath(name, 'linux'), name);
  }
  for (const name of ['console.jsonl', 'data.v2.jsonl', 'Con-1.txt', 'a b/c.jsonl'])
    assert.equal(checkUploadPath(name, 'win32'), name);
});

test('two upload names that differ only in case are refused where names ignore case', () => {
  const lib = { dataDir: tempDir('upload-names-') } as Library;
  const files = [
    { path: 'adapter/Config.json', size: 1 },
    { path: 'adapter/config.json', size: 1 },
  ];
  for (const platform of ['darwin', 'win32'] as const)
    assert.throws(
      () => beginUpload(lib, 'adapter', files, platform),
      /are one file on the studio's computer/,
    );
  assert.match(beginUpload(lib, 'adapter', files, 'linux').uploadId, /^[0-9a-f]{24}$/);
});

test('a zip whose entries differ only in case is refused where names ignore case', async () => {
  const dir = tempDir('upload-names-zip-');
  const zipPath = join(dir, 'up.zip');
  writeFileSync(zipPath, zipSync({ 'A.bin': new Uint8Array([1]), 'a.bin': new Uint8Array([2]) }));
  const args = { zipPath, kind: 'adapter' as const, label: 'up.zip' };
  await assert.rejects(
    unpackZip({ ...args, dest: join(dir, 'mac'), platform: 'darwin' }),
    /up\.zip holds "A\.bin" and "a\.bin", one file/,
  );
  await assert.rejects(
    unpackZip({ ...args, dest: join(dir, 'win'), platform: 'win32' }),
    /one file on the studio's computer/,
  );
  assert.deepEqual(await unpackZip({ ...args, dest: join(dir, 'linux'), platform: 'linux' }), {
    files: 2,
    bytes: 2,
  });
});
