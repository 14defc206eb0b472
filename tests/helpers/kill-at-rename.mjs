// Loaded with `node --import` into a CLI under test: SIGKILLs the process at the rename onto the
// path in REFT_TEST_KILL_AT_RENAME (`before:PATH` or `after:PATH`), where a kill between two steps
// of an atomic write would fall. A real kill, of the real code, at a moment no timer can hit.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';

const spec = process.env.REFT_TEST_KILL_AT_RENAME;
if (spec) {
  const [when, ...rest] = spec.split(':');
  const target = resolve(rest.join(':'));
  const renameSync = fs.renameSync;
  fs.renameSync = (from, to) => {
    const hit = resolve(String(to)) === target;
    if (hit && when === 'before') process.kill(process.pid, 'SIGKILL');
    renameSync(from, to);
    if (hit && when === 'after') process.kill(process.pid, 'SIGKILL');
  };
  syncBuiltinESMExports();
}
