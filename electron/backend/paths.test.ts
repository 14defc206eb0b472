// The default data folder on each OS, spelled with that OS's paths on any machine.

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { electronSettingsDir, resolveDataDir } from './paths.ts';

test('the default data folder is the OS app-data folder', () => {
  assert.equal(
    resolveDataDir(undefined, { APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, 'win32', 'C:\\Users\\ana'),
    'C:\\Users\\ana\\AppData\\Roaming\\ReFT Studio',
  );
  assert.equal(
    resolveDataDir(undefined, {}, 'darwin', '/Users/ana'),
    '/Users/ana/Library/Application Support/ReFT Studio',
  );
  assert.equal(resolveDataDir(undefined, {}, 'linux', '/home/ana'), '/home/ana/.local/share/reft-studio');
  assert.equal(
    resolveDataDir(undefined, { XDG_DATA_HOME: '/data/ana' }, 'linux', '/home/ana'),
    '/data/ana/reft-studio',
  );
});

test('an empty APPDATA or XDG_DATA_HOME counts as unset, never as a relative folder', () => {
  assert.equal(
    resolveDataDir(undefined, { APPDATA: '' }, 'win32', 'C:\\Users\\ana'),
    'C:\\Users\\ana\\AppData\\Roaming\\ReFT Studio',
  );
  assert.equal(
    resolveDataDir(undefined, { XDG_DATA_HOME: '' }, 'linux', '/home/ana'),
    '/home/ana/.local/share/reft-studio',
  );
});

test('the flag wins over REFT_STUDIO_HOME, which wins over the OS default', () => {
  assert.equal(resolveDataDir('lib', { REFT_STUDIO_HOME: '/x' }, 'win32'), resolve('lib'));
  assert.equal(
    resolveDataDir(undefined, { REFT_STUDIO_HOME: '/x', APPDATA: 'C:\\A' }, 'win32'),
    resolve('/x'),
  );
});

test("Electron's own files never go in the library's folder", () => {
  const library = 'C:\\Users\\ana\\AppData\\Roaming\\ReFT Studio';
  // A packaged app named "ReFT Studio": Electron's default is the library itself, in any case.
  assert.equal(
    electronSettingsDir('C:\\Users\\ana\\AppData\\Roaming\\reft studio', library, 'win32'),
    'C:\\Users\\ana\\AppData\\Roaming\\reft studio (app settings)',
  );
  assert.equal(
    electronSettingsDir(
      '/Users/ana/Library/Application Support/ReFT Studio',
      '/Users/ana/Library/Application Support/ReFT Studio/',
      'darwin',
    ),
    '/Users/ana/Library/Application Support/ReFT Studio (app settings)',
  );
  // Apart already (the usual case, and case matters on Linux): Electron's default stands.
  assert.equal(
    electronSettingsDir('C:\\Users\\ana\\AppData\\Roaming\\reft-studio', library, 'win32'),
    'C:\\Users\\ana\\AppData\\Roaming\\reft-studio',
  );
  assert.equal(
    electronSettingsDir('/home/ana/.config/ReFT-Studio', '/home/ana/.config/reft-studio', 'linux'),
    '/home/ana/.config/ReFT-Studio',
  );
});
