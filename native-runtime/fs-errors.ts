// Node's file errors in words. "ENOENT: no such file or directory, open '/x'" or a bare "(ENOENT)"
// says what went wrong in a code people do not read; here each known code becomes a phrase and a
// stable error code, for the CLI's `error:` line, for commands that name what they were doing
// (fileError: "runtime install: /x/runtimes: the disk is read-only") and (with paths shown relative
// to the data folder) the studio's window (electron/backend/rpc/user-errors.ts).

import { ReftError, toWireError, type WireError } from './errors.ts';

export const ERRNO: Record<string, { code: string; phrase: string }> = {
  ENOENT: { code: 'file-missing', phrase: 'no such file or folder' },
  EACCES: { code: 'permission-denied', phrase: 'permission denied' },
  EPERM: { code: 'permission-denied', phrase: 'not permitted' },
  ENOSPC: { code: 'disk-full', phrase: 'the disk is full' },
  EDQUOT: { code: 'disk-full', phrase: 'the disk quota is used up' },
  EFBIG: { code: 'file-too-large', phrase: 'a file is larger than the disk or a limit allows' },
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

const same = (p: string) => p;

/** Rewrites errno fragments in a message: "ENOENT: …, open '/x'" and "(ENOENT)"; `show` words paths. */
export function errnoWords(message: string, show: (path: string) => string = same): string {
  return message
    .replace(
      /\b(E[A-Z]{2,}): [^,'\n]+, \w+ '([^']*)'(?: -> '([^']*)')?/g,
      (all, code: string, path: string) => {
        const e = ERRNO[code];
        return e ? `${show(path)}: ${e.phrase}` : all;
      },
    )
    .replace(/\((E[A-Z]{2,})\)/g, (all, code: string) => (ERRNO[code] ? `(${ERRNO[code].phrase})` : all));
}

/** A Node file error of a known errno as its code and "path: phrase"; null for anything else. */
function knownFileError(
  err: unknown,
  show: (path: string) => string,
): { code: string; message: string } | null {
  if (err instanceof ReftError || !(err instanceof Error)) return null;
  const e = err as NodeJS.ErrnoException;
  const known = typeof e.code === 'string' ? ERRNO[e.code] : undefined;
  if (!known) return null;
  const where = typeof e.path === 'string' ? `${show(e.path)}: ` : '';
  return { code: known.code, message: `${where}${known.phrase}` };
}

/**
 * toWireError with Node's file errors said in words: a known errno as {FileError, its code, "path:
 * phrase"}, another file-system error as 'io-error', errno fragments inside other messages rewritten.
 */
export function plainError(err: unknown, show: (path: string) => string = same): WireError {
  const known = knownFileError(err, show);
  if (known) return { type: 'FileError', ...known };
  if (!(err instanceof ReftError) && err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    // Another file-system error (reading a device file, …) is the file's, not a bug.
    if (typeof e.syscall === 'string' && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code))
      return { type: 'FileError', code: 'io-error', message: errnoWords(e.message, show) };
  }
  const w = toWireError(err);
  return { ...w, message: errnoWords(w.message, show) };
}

/**
 * A Node file error of a known errno as one line, `<what>: <phrase>` (a ReftError with the errno's
 * code), leaving out the path Node names: for a temp sibling's, which means nothing to the person
 * (`what` names the file asked for). Null for any other error.
 */
export function errnoError(err: unknown, what: string): ReftError | null {
  const code = err instanceof ReftError ? undefined : (err as NodeJS.ErrnoException | null)?.code;
  const known = typeof code === 'string' ? ERRNO[code] : undefined;
  return known ? new ReftError(known.code, `${what}: ${known.phrase}`, { cause: err }) : null;
}

/**
 * A Node file error as one line, `<what>: <path>: <phrase>` (a ReftError with the errno's code);
 * any other error is returned as it is.
 */
export function fileError(err: unknown, what: string): unknown {
  const known = knownFileError(err, same);
  return known ? new ReftError(known.code, `${what}: ${known.message}`, { cause: err }) : err;
}
