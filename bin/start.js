#!/usr/bin/env node
// `npm start`: the desktop app when it can run, otherwise the same studio in a browser.
// Electron needs its binary (downloaded on first use, impossible offline) and, on Linux, a display.
// We look for the binary WITHOUT require('electron'), which would try to download it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// A file path, not the URL's pathname: that keeps percent-escapes ("My%20Projects") and, on Windows,
// reads "/C:/…", which is no folder there, so the builds and Electron were started in no folder.
const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);

function electronBinary() {
  let dir;
  try {
    dir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { path: null, why: 'the electron package is not installed' };
  }
  const pathFile = join(dir, 'path.txt');
  if (!existsSync(pathFile)) return { path: null, why: 'Electron binary not available (offline install)' };
  const rel = readFileSync(pathFile, 'utf8').trim();
  const base = process.env.ELECTRON_OVERRIDE_DIST_PATH || join(dir, 'dist');
  const bin = join(base, rel);
  return existsSync(bin)
    ? { path: bin, why: null }
    : { path: null, why: 'Electron binary not available (offline install)' };
}

function hasDisplay() {
  if (process.platform !== 'linux') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

function buildRenderer() {
  return run(process.execPath, [
    join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
    'build',
    '--config',
    'renderer/vite.config.ts',
  ]);
}

const electron = electronBinary();
const why = electron.path
  ? hasDisplay()
    ? null
    : 'no display (DISPLAY/WAYLAND_DISPLAY unset)'
  : electron.why;

if (!why) {
  if (!buildRenderer() || !run(process.execPath, [join(root, 'scripts', 'build-electron.js')]))
    process.exit(1);
  const child = spawn(electron.path, [root, ...args], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.error(`${why} — starting reft-studio serve instead`);
  if (!existsSync(join(root, 'renderer', 'dist', 'index.html')) && !buildRenderer()) {
    console.error('warning: the renderer build failed; the page will say so (the RPC still works)');
  }
  register();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(['serve', ...args]);
}
