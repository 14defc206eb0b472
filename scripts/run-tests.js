// Runs every test under node's own test runner, TypeScript through tsx, so `npm test` ends with
// node --test's summary line. Unit tests sit beside the code (*.test.ts); integration, golden and
// end-to-end tests live in tests/. Pass paths to run a subset: `npm test -- tests/golden`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// A path, not the URL's pathname ("%20" for a space, "/C:/…" on Windows).
const root = fileURLToPath(new URL('..', import.meta.url));
const skip = new Set(['node_modules', 'dist', '.git', 'fixtures', '.gpu', 'renderer']);

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const args = process.argv.slice(2);
const roots = args.length ? args : ['native-runtime', 'electron', 'cli', 'tests'];
const files = roots
  .flatMap((r) => (statSync(join(root, r)).isDirectory() ? collect(join(root, r), []) : [r]))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  // A test that hangs (a server that never answers, a child that never exits) must fail on its own
  // instead of running into CI's 90-minute limit; no single test here needs 15 minutes.
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=900000',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
