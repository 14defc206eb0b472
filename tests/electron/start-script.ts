// Runs a bin/start.js where Electron cannot run (no binary, no display), until it serves.

import { type ChildProcess, spawn } from 'node:child_process';
import { exitOf, ROOT, tempDir } from '../backend/helpers.ts';

/** The one line start.js says before it serves instead. */
export const FALLBACK_LINE =
  /^(Electron binary not available \(offline install\)|the electron package is not installed) — starting reft-studio serve instead\n/;

export interface Started {
  child: ChildProcess;
  url: string;
  /** Its stderr so far. */
  err: () => string;
}

/** Starts `script` (a bin/start.js) with no Electron binary and no display; resolves once it serves. */
export async function startWithoutElectron(script: string): Promise<Started> {
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

/** Stops what startWithoutElectron started and waits for it to exit. */
export async function stopStarted(s: Started): Promise<void> {
  s.child.kill('SIGTERM');
  await exitOf(s.child);
}
