// Temp folders for tests. Removed when the test file's process exits, not in after(): a top-level
// after() only covers the current suite, and some tests inspect a folder after killing a child.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];

/** A fresh folder `<os.tmpdir()>/<prefix>XXXXXX`, removed (recursively) when this process exits. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  if (dirs.push(d) === 1)
    process.on('exit', () => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });
  return d;
}
