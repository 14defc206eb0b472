// What `reft-studio serve` keeps between launches, in <data folder>/serve.json (owner-only): the
// access token and the port. A restarted server on the same data folder listens on the same port with
// the same token, so a tab that was open reconnects by itself instead of being stranded with a link
// that no longer works. The token guards the same library the file sits in, so keeping it next to
// the database adds no exposure (anyone who can read the file can read the library itself).
// The token is kept only while the port is: when the saved port is taken (or another --port is
// given), the server moves and takes a new token, since a tab left open on the old port would send
// the old token to whatever program listens there now.
// One server per data folder (`<data folder>/serve.lock`): a second one would move to another port
// and overwrite the first's in serve.json, so the first's tabs would not find it after its restart.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../native-runtime/errors.ts';
import { writeFileAtomic } from '../../native-runtime/formats/atomic-write.ts';
import { plainError } from '../../native-runtime/fs-errors.ts';
import { acquirePidLock } from '../../native-runtime/pid-lock.ts';

export interface ServeState {
  token: string;
  port: number | null;
}

const FILE = 'serve.json';
const TOKEN_RE = /^[A-Za-z0-9_-]{32}$/;

/** The stored token and port, or a fresh token (and no port) when there are none or they are bad. */
export function loadServeState(dataDir: string): ServeState {
  const file = join(dataDir, FILE);
  if (existsSync(file)) {
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServeState>;
      if (typeof v.token === 'string' && TOKEN_RE.test(v.token)) {
        const port =
          Number.isInteger(v.port) && (v.port as number) > 0 && (v.port as number) < 65536
            ? (v.port as number)
            : null;
        return { token: v.token, port };
      }
    } catch {
      // unreadable: start over with a new token
    }
  }
  return { token: newToken(), port: null };
}

function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token for a server now listening on `port`: the saved one if it is where it was, else a new one. */
export function tokenForPort(saved: ServeState, port: number): string {
  return saved.port === null || saved.port === port ? saved.token : newToken();
}

/**
 * Records the token and the port actually used (atomic, owner-only). Never throws: returns why they
 * could not be kept (a full disk: "cannot write …/serve.json: the disk is full"), or null. The next
 * launch then makes a new token, so the server says so.
 */
export function saveServeState(dataDir: string, state: ServeState): string | null {
  const file = join(dataDir, FILE);
  try {
    // Owner-only from its creation: a chmod after the rename left the temp file world-readable, and
    // another local user watching the folder could open it and read the token as it was written.
    writeFileAtomic(file, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    return null;
  } catch (e) {
    return plainError(e).message;
  }
}

/**
 * Takes the data folder's serve lock for a server on `urlHost` (a lock left by a killed server is
 * taken over); returns its release. While another live server holds it, refuses in one line that
 * names that server's address (never its token) and how to reach it.
 */
export function holdServeLock(dataDir: string, urlHost: string): () => void {
  return acquirePidLock(join(dataDir, 'serve.lock'), urlHost, (holder) => {
    const port = loadServeState(dataDir).port;
    const where = holder.doing && port !== null ? ` at http://${holder.doing}:${port}/` : '';
    return new ValidationError(
      'already-serving',
      `another reft-studio serve (pid ${holder.pid}) is already serving this data folder${where}; open the link it printed (it holds the token), or stop it before starting another`,
    );
  });
}
