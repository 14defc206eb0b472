// Electron's main process as packaged (dist/electron/main.cjs in an app staged from
// electron-builder.yml), run under plain Node against a stand-in for the `electron` module
// (electron-stand-in/: it records and probes, the Electron binary cannot be downloaded here). What the
// window is given and what main's handlers answer a page: the security checklist, applied.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp.ts';
import { stagePackagedApp } from './packaged-app.ts';

const packaged = stagePackagedApp();
symlinkSync(
  join(import.meta.dirname, 'electron-stand-in'),
  join(packaged.app, 'node_modules', 'electron'),
  'dir',
);

// biome-ignore lint/suspicious/noExplicitAny: the report is read field by field
function runMain(env: NodeJS.ProcessEnv): Promise<any> {
  const child = fork(join(packaged.app, 'dist', 'electron', 'main.cjs'), [], {
    cwd: tempDir('main-bundle-'),
    execArgv: [],
    env: { ...process.env, NODE_OPTIONS: '', REFT_STUDIO_HOME: tempDir('main-bundle-data-'), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { error?: string }) => {
      child.kill();
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`main.cjs exited (${code}) before its report`)));
  });
}

test('the installed app loads its own page, whatever VITE_DEV_SERVER_URL says', async () => {
  const dev = 'http://localhost:5173/';
  const installed = await runMain({ REFT_TEST_PACKAGED: '1', VITE_DEV_SERVER_URL: dev });
  // It loaded the dev server's page and gave that origin the backend before.
  assert.deepEqual(installed.loaded, ['app://studio/index.html']);
  assert.equal(installed.connect['http://localhost:5173'], false);
  assert.equal(installed.navigate[dev], false);
  // A development run (`npm start` with a dev server) uses it.
  const development = await runMain({ VITE_DEV_SERVER_URL: dev });
  assert.deepEqual(development.loaded, [dev]);
  assert.equal(development.connect['http://localhost:5173'], true);
});

test("main moves Electron's own files out of the library's folder when they would share it", async () => {
  const library = tempDir('main-bundle-library-');
  const shared = await runMain({ REFT_STUDIO_HOME: library, REFT_TEST_USER_DATA: library });
  assert.deepEqual(shared.paths, { userData: `${library} (app settings)` });
  const apart = await runMain({
    REFT_STUDIO_HOME: library,
    REFT_TEST_USER_DATA: '/home/ana/.config/reft-studio',
  });
  assert.deepEqual(apart.paths, { userData: '/home/ana/.config/reft-studio' });
});

test('main gives the page no Node, no other origin, no permission it does not need', async () => {
  const r = await runMain({ REFT_TEST_PACKAGED: '1', VITE_DEV_SERVER_URL: '' });
  assert.deepEqual(r.loaded, ['app://studio/index.html']);
  const { preload, ...prefs } = r.webPreferences;
  assert.deepEqual(prefs, { contextIsolation: true, sandbox: true, nodeIntegration: false });
  assert.equal(r.preloadExists, true, `${preload} is in the package`);
  assert.deepEqual(
    r.forks.map((f: { file: string; exists: boolean }) => [f.file.slice(packaged.app.length), f.exists]),
    [['/dist/electron/utility-entry.cjs', true]],
  );
  // New windows are never opened; only https links go to the browser.
  assert.deepEqual(r.windowOpen, {
    'https://huggingface.co/x': { action: 'deny', openedExternally: true },
    'http://example.com/': { action: 'deny', openedExternally: false },
    'file:///etc/passwd': { action: 'deny', openedExternally: false },
    'javascript:alert(1)': { action: 'deny', openedExternally: false },
  });
  assert.deepEqual(r.navigate, {
    'app://studio/index.html#/runs': true,
    'http://localhost:5173/': false,
    'https://example.com/': false,
  });
  for (const [p, answer] of Object.entries(r.permissions))
    assert.deepEqual(
      answer,
      p === 'clipboard-sanitized-write' ? { request: true, check: true } : { request: false, check: false },
      p,
    );
  assert.deepEqual(r.connect, {
    'app://studio': true,
    'http://localhost:5173': false,
    'https://example.com': false,
  });
  // app:// serves renderer/dist (a client-side route gets the app shell), nothing for another host.
  assert.deepEqual(r.served, {
    'app://studio/index.html': '/renderer/dist/index.html',
    'app://studio/runs/3': '/renderer/dist/index.html',
    'app://other/index.html': 403,
  });
});
