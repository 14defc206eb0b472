// Atomic file writes for the engine and the library: write a temp file in the target's folder, fsync
// it, rename it over the target, then fsync the folder so the rename itself survives a power cut. A
// crash at any point leaves either no file / the old file, or the complete new one — never a
// half-written file. Leftover `*.tmp` files from a killed process are swept by sweepTempFiles.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

const TMP_SUFFIX = '.tmp';

function fsyncDir(dir: string): void {
  // Windows cannot open a directory for fsync; NTFS renames are journaled anyway.
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` atomically; `createDir` also creates the parent folder when missing. */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { createDir?: boolean } = {},
): void {
  const dir = dirname(path);
  if (opts.createDir) mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

/**
 * Removes `*.tmp` files left under `root` by a killed writer. Only files older than `minAgeMs` go,
 * so a write in progress in another process (the CLI next to `serve`) is left alone.
 */
export function sweepTempFiles(root: string, minAgeMs = 10 * 60_000): number {
  let removed = 0;
  const now = Date.now();
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (name.endsWith(TMP_SUFFIX) && now - st.mtimeMs >= minAgeMs) {
        try {
          unlinkSync(p);
          removed++;
        } catch {}
      }
    }
  };
  walk(root);
  return removed;
}
