// `npm start` (bin/start.js) where Electron cannot run — no binary (an offline install) or no display:
// one line says why, then the same studio is served for a browser.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, ROOT, tempDir } from '../backend/helpers.ts';

test('npm start without an Electron binary says so in one line and serves the studio', {
  timeout: 300_000,
}, async () => {
  // An empty Electron dist folder and no display: the fallback on any machine, binary or not.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ELECTRON_OVERRIDE_DIST_PATH: tempDir('no-electron-'),
    NODE_OPTIONS: '',
  };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'start.js'), '--data-dir', tempDir('start-'), '--port', '0'],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^ReFT Studio is serving at (http:\/\/\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`start.js exited (${code}): ${err}`)));
  });
  try {
    assert.match(
      err,
      /^(Electron binary not available \(offline install\)|the electron package is not installed) — starting reft-studio serve instead\n$/,
    );
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ReFT Studio<\/title>/);
  } finally {
    child.kill('SIGTERM');
    await exitOf(child);
  }
});
