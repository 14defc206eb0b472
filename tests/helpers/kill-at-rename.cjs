// Loaded with `node --require` into a CLI under test: SIGKILLs the process (or sends it the signal
// in REFT_TEST_KILL_SIGNAL: a Ctrl-C is SIGINT) at the rename onto the path in
// REFT_TEST_KILL_AT_RENAME (`before:PATH` or `after:PATH`), where a kill between two steps of an
// atomic write would fall. A real signal, to the real code, at a moment no timer can hit.
// CommonJS and --require because Node loads those into worker threads too (--import only into the
// main thread), and the CLI writes a bundle in one (cli/stoppable-bundle.ts).
const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');
const { resolve } = require('node:path');

const spec = process.env.REFT_TEST_KILL_AT_RENAME;
if (spec) {
  const [when, ...rest] = spec.split(':');
  const target = resolve(rest.join(':'));
  const signal = process.env.REFT_TEST_KILL_SIGNAL || 'SIGKILL';
  const renameSync = fs.renameSync;
  fs.renameSync = (from, to) => {
    const hit = resolve(String(to)) === target;
    if (hit && when === 'before') process.kill(process.pid, signal);
    renameSync(from, to);
    if (hit && when === 'after') process.kill(process.pid, signal);
  };
  syncBuiltinESMExports();
}
