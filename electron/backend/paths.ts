// Where things live: the data folder (the library: database, dataset files, adapters), the app root
// (for renderer/dist) and the bundled resources (the demo model and dataset). Works from source (tsx),
// from the esbuild bundle in dist/electron/ and from a packaged Electron app.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, resolve, win32 } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR_NAME_POSIX = 'reft-studio';
export const APP_DIR_NAME = 'ReFT Studio';

/**
 * The OS app-data folder for the library, unless overridden. Precedence: flag, env, OS default.
 * `platform` and `home` are for tests, which spell a Windows or macOS folder on Linux.
 */
export function resolveDataDir(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home = homedir(),
): string {
  if (flag) return resolve(flag);
  if (env.REFT_STUDIO_HOME) return resolve(env.REFT_STUDIO_HOME);
  // An empty variable is an unset one (as XDG says): `??` took APPDATA="" and gave a relative
  // "ReFT Studio", a library in whatever folder the studio was started from.
  switch (platform) {
    case 'darwin':
      return posix.join(home, 'Library', 'Application Support', APP_DIR_NAME);
    case 'win32':
      return win32.join(env.APPDATA || win32.join(home, 'AppData', 'Roaming'), APP_DIR_NAME);
    default:
      return posix.join(env.XDG_DATA_HOME || posix.join(home, '.local', 'share'), APP_DIR_NAME_POSIX);
  }
}

/**
 * Where Electron keeps its own files (caches, Local Storage), given its default `userData` and the
 * library's folder: anywhere but the library. Electron names `userData` after the app, so a packaged
 * app named "ReFT Studio" would put its caches in the library's own folder on Windows and macOS.
 * Those file systems ignore case, and so does this comparison there.
 */
export function electronSettingsDir(
  userData: string,
  dataDir: string,
  platform: NodeJS.Platform = process.platform,
): string {
  const p = platform === 'win32' ? win32 : posix;
  const fold = (dir: string) => {
    const full = p.resolve(dir);
    return platform === 'linux' ? full : full.toLowerCase();
  };
  if (fold(userData) !== fold(dataDir)) return userData;
  return p.join(p.dirname(p.resolve(userData)), `${p.basename(p.resolve(userData))} (app settings)`);
}

/** The folder holding the app's package.json (the repo root from source, the asar root when packaged). */
export function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'reft-studio') return dir;
      } catch {}
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the reft-studio package root');
    dir = up;
  }
}

/** The app version from package.json. */
export function appVersion(): string {
  return JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8')).version as string;
}

/** Bundled resources: REFT_STUDIO_RESOURCES, Electron's resourcesPath when packaged, else <root>/resources. */
export function resourcesDir(): string {
  if (process.env.REFT_STUDIO_RESOURCES) return resolve(process.env.REFT_STUDIO_RESOURCES);
  const rp = (process as { resourcesPath?: string }).resourcesPath;
  if (rp && existsSync(join(rp, 'demo'))) return rp;
  return join(appRoot(), 'resources');
}
