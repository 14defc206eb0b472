// Errors as people read them in the window. Node's own file errors ("ENOENT: no such file or
// directory, open '/tmp/reft-calibrate-x1/…'") say neither what was missing in words nor where in
// terms the person knows: here they become a phrase and a place — a file in the data folder is named
// relative to it, a temporary file by its name only — with a stable code per kind of failure.
// The studio's own errors (ReftError) keep their code; only errno fragments inside them are rewritten,
// and the CLI's flags in their hints become the window's words.

import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { ReftError, toWireError, type WireError } from '../../../native-runtime/errors.ts';

const ERRNO: Record<string, { code: string; phrase: string }> = {
  ENOENT: { code: 'file-missing', phrase: 'no such file or folder' },
  EACCES: { code: 'permission-denied', phrase: 'permission denied' },
  EPERM: { code: 'permission-denied', phrase: 'not permitted' },
  ENOSPC: { code: 'disk-full', phrase: 'the disk is full' },
  EDQUOT: { code: 'disk-full', phrase: 'the disk quota is used up' },
  EROFS: { code: 'read-only', phrase: 'the disk is read-only' },
  EISDIR: { code: 'is-a-folder', phrase: 'a folder, not a file' },
  ENOTDIR: { code: 'not-a-folder', phrase: 'not a folder' },
  EEXIST: { code: 'already-exists', phrase: 'already exists' },
  ENOTEMPTY: { code: 'folder-not-empty', phrase: 'the folder is not empty' },
  EMFILE: { code: 'too-many-files', phrase: 'too many open files' },
  EBUSY: { code: 'busy', phrase: 'in use by another program' },
  ENAMETOOLONG: { code: 'name-too-long', phrase: 'the name is too long' },
  EIO: { code: 'io-error', phrase: 'the disk could not be read or written' },
};

function inside(dir: string, p: string): string | null {
  const rel = relative(resolve(dir), resolve(p));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : null;
}

/** A path as people should see it: data-folder files relative to it, temporary files by name. */
export function showPath(p: string, dataDir: string): string {
  const inData = inside(dataDir, p);
  if (inData !== null) return `${inData} in the data folder`;
  if (inside(tmpdir(), p) !== null) return `the temporary file ${basename(p)}`;
  return p;
}

/** Rewrites errno fragments in a message: "ENOENT: …, open '/x'" and "(ENOENT)". */
export function cleanMessage(message: string, dataDir: string): string {
  return message
    .replace(
      /\b(E[A-Z]{2,}): [^,'\n]+, \w+ '([^']*)'(?: -> '([^']*)')?/g,
      (all, code: string, path: string) => {
        const e = ERRNO[code];
        return e ? `${showPath(path, dataDir)}: ${e.phrase}` : all;
      },
    )
    .replace(/\((E[A-Z]{2,})\)/g, (all, code: string) => (ERRNO[code] ? `(${ERRNO[code].phrase})` : all))
    .replace(pathsIn(resolve(dataDir)), (p) => showPath(p, dataDir))
    .replace(pathsIn(join(resolve(tmpdir()), 'reft-')), (p) => showPath(p, dataDir));
}

/** Absolute paths under `prefix` in free text (up to a space, quote or punctuation that ends it). */
function pathsIn(prefix: string): RegExp {
  return new RegExp(`${escapeRe(prefix)}[^\\s'",;:)]*`, 'g');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The engine's hints name the CLI's flags ("give --model ID|DIR"); the window has a control for each
 * instead, so its messages name what to choose there.
 */
const WINDOW_WORDS: Array<[RegExp, string]> = [
  [/; give --model ID\|DIR/g, '; choose its base model and import it again'],
  [/ \(give --positions to change\)/g, ' (give its positions to change that)'],
  [
    /; map them, e\.g\. --map prompt=.* --map completion=\S*/g,
    '; choose which column is the prompt and which the completion',
  ],
];

/** A message with the CLI's hints said as the window says them. */
export function windowWords(message: string): string {
  return WINDOW_WORDS.reduce((m, [re, words]) => m.replace(re, words), message);
}

/** toWireError for the window: Node file errors translated, errno fragments rewritten. */
export function toUserError(err: unknown, dataDir: string): WireError {
  if (!(err instanceof ReftError) && err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    const known = typeof e.code === 'string' ? ERRNO[e.code] : undefined;
    if (known) {
      const where = typeof e.path === 'string' ? `${showPath(e.path, dataDir)}: ` : '';
      return { type: 'FileError', code: known.code, message: `${where}${known.phrase}` };
    }
    // Another file-system error (reading a device file, …) is the file's, not a bug.
    if (typeof e.syscall === 'string' && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code))
      return { type: 'FileError', code: 'io-error', message: cleanMessage(e.message, dataDir) };
  }
  const w = toWireError(err);
  return { ...w, message: windowWords(cleanMessage(w.message, dataDir)) };
}
