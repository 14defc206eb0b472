// How a POSIX shell reads a command line the CLI printed for the user to paste: the words /bin/sh
// splits it into, after its quoting and expansions.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** The words /bin/sh makes of `line` (each printed NUL-terminated by printf, then split). */
export function shellWords(line: string): string[] {
  const r = spawnSync('/bin/sh', ['-c', `set -- ${line}; for w; do printf '%s\\0' "$w"; done`], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\0').slice(0, -1);
}
