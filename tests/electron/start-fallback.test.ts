// `npm start` (bin/start.js) where Electron cannot run — no binary (an offline install) or no display:
// one line says why, then the same studio is served for a browser.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, ROOT, tempDir } from '../backend/helpers.ts';

const FALLBACK_LINE =
  /^(Electron binary not available \(offline install\)|the electron package is not installed) — starting reft-studio serve instead\n/;

/** Runs `script` (a bin/start.js) with no Electron binary and no display, until it serves. */
async function startWithoutElectron(
  script: string,
): Promise<{ child: ChildProcess; url: string; err: () => string }> {
  // An empty Electron dist folder and no display: the fallback on any machine, binary or not.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ELECTRON_OVERRIDE_DIST_PATH: tempDir('no-electron-'),
    NODE_OPTIONS: '',
  };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  const child = spawn(process.execPath, [script, '--data-dir', tempDir('start-'), '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /^ReFT Studio is serving at (http:\/\/\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`start.js exited (${code}): ${err}`)));
  });
  return { child, url, err: () => err };
}

test('npm start without an Electron binary says so in one line and serves the studio', {
  timeout: 300_000,
}, async () => {
  const { child, url, err } = await startWithoutElectron(join(ROOT, 'bin', 'start.js'));
  try {
    assert.match(err(), new RegExp(`${FALLBACK_LINE.source}$`));
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ReFT Studio<\/title>/);
  } finally {
    child.kill('SIGTERM');
    await exitOf(child);
  }
});

test('npm start from a folder whose path has a space finds its own files', {
  timeout: 300_000,
}, async () => {
  // The app's folder as a file URL spells the space "%20" (and a Windows drive "/C:/…"): read as a
  // path, renderer/dist/index.html was "missing" and the rebuild was started in no folder, so a
  // built app warned that the build failed (and Electron, started there too, never opened).
  const app = join(tempDir('start-'), 'My Projects', 'reft-studio');
  mkdirSync(join(app, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'start.js'), join(app, 'bin', 'start.js'));
  for (const dir of ['node_modules', 'cli']) symlinkSync(join(ROOT, dir), join(app, dir));
  mkdirSync(join(app, 'renderer', 'dist'), { recursive: true });
  writeFileSync(join(app, 'renderer', 'dist', 'index.html'), '<title>ReFT Studio</title>');
  const { child, err } = await startWithoutElectron(join(app, 'bin', 'start.js'));
  try {
    assert.match(err(), FALLBACK_LINE);
    assert.doesNotMatch(err(), /renderer build failed/);
  } finally {
    child.kill('SIGTERM');
    await exitOf(child);
  }
});
