// Libraries opened by a test file: each in a fresh folder under one temp root, all closed after it.

import { join } from 'node:path';
import { after } from 'node:test';
import { closeLibrary, type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { tempDir } from './temp.ts';

/** `open()` gives a library in a new folder under `root` (or in `dir`); all are closed after the file. */
export function testLibraries(prefix: string): { root: string; open: (dir?: string) => Library } {
  const root = tempDir(prefix);
  const libs: Library[] = [];
  after(() => libs.forEach(closeLibrary));
  return {
    root,
    open(dir = join(root, `lib-${libs.length}`)) {
      const lib = openLibrary(dir);
      libs.push(lib);
      return lib;
    },
  };
}
