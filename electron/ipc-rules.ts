// What Electron's main process accepts from the page, as plain functions (no Electron import), so the
// rules run in the unit tests on a machine without a display: which frames may ask for anything, what
// the native pickers take (whatever the page sends is reduced to these fields or refused), which
// permission requests are granted, where the window may navigate and which file an app:// request
// serves. electron/main.ts applies them.

import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

export const APP_ORIGIN = 'app://studio';

/**
 * The dev server the window loads instead of app://studio: VITE_DEV_SERVER_URL, an http(s) URL, in a
 * development run only. An installed app ignores it: the page it names would be given the backend
 * (isStudioOrigin), and the variable may well be set for some other project's Vite server.
 */
export function devServerUrl(env: NodeJS.ProcessEnv, packaged: boolean): string | undefined {
  const url = env.VITE_DEV_SERVER_URL;
  if (packaged || !url) return undefined;
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The origin the dev server's page has, or null (unset or not a URL). */
function devOrigin(devServerUrl: string | undefined): string | null {
  if (!devServerUrl) return null;
  try {
    const o = new URL(devServerUrl).origin;
    return o === 'null' ? null : o;
  } catch {
    return null;
  }
}

/** Whether a frame is the studio's own page: app://studio, or exactly the dev server's origin. */
export function isStudioOrigin(origin: string | undefined | null, devServerUrl?: string): boolean {
  if (!origin) return false;
  return origin === APP_ORIGIN || origin === devOrigin(devServerUrl);
}

/** Whether a navigation stays on the studio's page (any other URL is refused, links open outside). */
export function isStudioUrl(url: string, devServerUrl?: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  // Node's URL gives custom schemes the origin "null": compare scheme and host instead.
  if (u.protocol === 'app:') return u.host === 'studio';
  return u.origin !== 'null' && u.origin === devOrigin(devServerUrl);
}

/** A dialog title from the page: text only, one line, at most 200 characters. */
function title(raw: unknown, fallback: string): string {
  if (typeof raw !== 'string') return fallback;
  const t = raw
    .replace(/\p{Cc}+/gu, ' ')
    .trim()
    .slice(0, 200);
  return t || fallback;
}

/** A plain object's own field (never one from a prototype or a getter's side effects). */
function field(raw: unknown, key: string): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const d = Object.getOwnPropertyDescriptor(raw, key);
  return d && 'value' in d ? d.value : undefined;
}

/** 'reft:pick-folder' options: a title, and whether the dialog may create a folder. */
export function folderPickerOptions(raw: unknown): { title: string; create: boolean } {
  return { title: title(field(raw, 'title'), 'Choose a folder'), create: field(raw, 'create') === true };
}

/** 'reft:pick-file' options: a title (the file types are the dataset formats, whatever is asked). */
export function filePickerOptions(raw: unknown): { title: string } {
  return { title: title(field(raw, 'title'), 'Choose a file') };
}

/**
 * Permission requests from the page: only writing text to the clipboard (the pyreft snippet's Copy
 * button). Electron grants every request it is not told about — camera, microphone, geolocation,
 * notifications — and the studio needs none of them.
 */
export function permissionAllowed(permission: string): boolean {
  return permission === 'clipboard-sanitized-write';
}

/**
 * The file an app:// request serves from `rendererDir`: the file itself, the app shell for a
 * client-side route, or null (another host, or a path outside the folder) — answered 403.
 */
export function rendererFile(rendererDir: string, requestUrl: string): string | null {
  let u: URL;
  try {
    u = new URL(requestUrl);
  } catch {
    return null;
  }
  if (u.protocol !== 'app:' || u.host !== 'studio') return null;
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  const file = resolve(rendererDir, `.${path}`);
  const rel = relative(rendererDir, file);
  if (rel.startsWith('..') || isAbsolute(rel)) return null;
  return rel !== '' && existsSync(file) && statSync(file).isFile() ? file : join(rendererDir, 'index.html');
}
