// One writer per blob in the Hugging Face cache, across processes and across tools. Two downloads of
// the same file (two studio windows, the CLI beside `serve`, or huggingface_hub itself) would append
// to the same blobs/<etag>.incomplete at once and each fail its checksum or fetch the file twice.
// huggingface_hub guards each blob with an exclusive flock(2) on
//   <cache>/.locks/models--ORG--NAME/<etag>.lock
// (filelock's UnixFileLock), and so do we, on the same file, so each side waits for the other.
//
// Node has no flock(2). util-linux's flock(1) takes it for us on a descriptor we open and hand to it:
// a flock belongs to the open file description, which the child shares, so the lock stays ours after
// the child exits and is released when we close the descriptor (or when this process dies: a killed
// download never leaves a stale lock). The lock file itself stays, as huggingface_hub leaves it
// (deleting a lock file others may be waiting on would let two holders in).
// Where flock(1) is missing (macOS, Windows) downloads in this process still wait for each other;
// across processes they are not locked there.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CancelledError } from '../../../native-runtime/errors.ts';
import { makeFolders } from '../../../native-runtime/formats/atomic-write.ts';
import { repoFolderName } from './cache.ts';

/** huggingface_hub's lock file for one blob of a repository. */
export function blobLockPath(cacheDir: string, repo: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repo), `${etag}.lock`);
}

/** Runs `flock [args] 3` on `fd`; resolves with its exit code, or null when flock(1) is not there. */
function runFlock(fd: number, args: string[], signal?: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn('flock', [...args, '3'], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    } catch {
      return resolve(null);
    }
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', () => resolve(null));
    child.once('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(code ?? -1); // -1: ended by a signal (a cancel)
    });
  });
}

/** In-process waiting where flock(1) is missing: one promise chain per lock path. */
const localChains = new Map<string, Promise<unknown>>();

async function withLocalLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const prev = localChains.get(path) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(fn);
  const tail = run.catch(() => {});
  localChains.set(path, tail);
  try {
    return await run;
  } finally {
    if (localChains.get(path) === tail) localChains.delete(path);
  }
}

export interface BlobLockOptions {
  signal?: AbortSignal;
  /** Called once when another process holds the lock and this one starts waiting for it. */
  onWait?: () => void;
}

/**
 * Runs `fn` holding the exclusive lock of one blob (waiting for another holder first). A cancel while
 * waiting throws CancelledError without running `fn`.
 */
export async function withBlobLock<T>(
  lockPath: string,
  opts: BlobLockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  makeFolders(dirname(lockPath));
  const fd = openSync(lockPath, 'a');
  try {
    let code = await runFlock(fd, ['--exclusive', '--nonblock']);
    if (code === null) return await withLocalLock(lockPath, fn);
    if (code !== 0) {
      opts.onWait?.();
      code = await runFlock(fd, ['--exclusive'], opts.signal);
    }
    if (opts.signal?.aborted)
      throw new CancelledError('download cancelled (partial files kept; run it again to resume)');
    // A blocking flock that fails (a file system without flock: NFS without lockd, some FUSE mounts)
    // degrades to waiting within this process, as huggingface_hub falls back to a soft lock there.
    if (code !== 0) return await withLocalLock(lockPath, fn);
    return await fn();
  } finally {
    // Closing our descriptor releases the flock (the child's copy closed when it exited).
    closeSync(fd);
  }
}
