// Reading a range of an open file whole: readSync may return fewer bytes than asked (it does for
// large reads and on some file systems), so a reader loops until the range is in or the file ends.
// Callers decide what a short read means (a truncated safetensors file, a damaged dataset file, a zip
// whose directory lies about its size) and say it in their own words.

import { readSync } from 'node:fs';

/** Fills `buf` from `fd` at `position`; returns how many bytes were read (fewer only at the end). */
export function readFullyAt(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
