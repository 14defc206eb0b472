// The developer scripts run from a checkout whose path has a space. Each took its folder from
// `new URL('..', import.meta.url).pathname`, which spells a space "%20" (and a Windows drive
// "/C:/…"): the folder it named did not exist, so the Electron bundles, the test runner and
// `npm start` failed from "My Projects" on any OS, and from every folder on Windows.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../backend/helpers.ts';
import { appCopy } from './app-copy.ts';
import { FALLBACK_LINE, startWithoutElectron, stopStarted } from './start-script.ts';

const spaced = (what: string) => join(tempDir(`space-${what}-`), 'My Projects', 'reft-studio');

test('npm start from a folder whose path has a space finds its built renderer', {
  timeout: 300_000,
}, async () => {
  // renderer/dist/index.html read as missing: a rebuild was started in no folder, and a built app
  // warned that "the renderer build failed" (Electron, started there too, never opened).
  const app = appCopy(spaced('start'), ['bin/start.js'], ['node_modules', 'cli']);
  mkdirSync(join(app, 'renderer', 'dist'), { recursive: true });
  writeFileSync(join(app, 'renderer', 'dist', 'index.html'), '<title>ReFT Studio</title>');
  const started = await startWithoutElectron(join(app, 'bin', 'start.js'));
  try {
    assert.match(started.err(), FALLBACK_LINE);
    assert.doesNotMatch(started.err(), /renderer build failed/);
  } finally {
    await stopStarted(started);
  }
});

test('the Electron bundles build from a folder whose path has a space', { timeout: 300_000 }, () => {
  const app = appCopy(
    spaced('build'),
    ['scripts/build-electron.js', 'scripts/electron-bundle.js'],
    ['node_modules', 'electron', 'native-runtime'],
  );
  execFileSync(process.execPath, [join(app, 'scripts', 'build-electron.js')], { cwd: app, stdio: 'pipe' });
  assert.ok(existsSync(join(app, 'dist', 'electron', 'main.cjs')));
});

test('the test runner finds tests in a folder whose path has a space', { timeout: 300_000 }, () => {
  const app = appCopy(spaced('tests'), ['scripts/run-tests.js'], ['node_modules']);
  mkdirSync(join(app, 'tests'));
  writeFileSync(
    join(app, 'tests', 'one.test.ts'),
    "import { test } from 'node:test';\ntest('runs', () => {});\n",
  );
  const r = spawnSync(process.execPath, [join(app, 'scripts', 'run-tests.js'), 'tests/one.test.ts'], {
    cwd: app,
    encoding: 'utf8',
    // Not as a child of this test run, which would take its report instead of printing it.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /pass 1/);
});
