// A bundle export that Ctrl-C can stop. makeBundle is synchronous (it streams a whole dataset into
// data.jsonl, seconds for a big one), and while it runs on the main thread no signal handler can
// run: Node's default ended the process mid-write and left `.NAME.TAG.tmp` (and, replacing a
// previous export, `.NAME.TAG.old`) beside the folder, which sweepFolderLeftovers clears only ten
// minutes later. So the write runs in a worker thread (signals reach the main thread only, which
// stays free): on `signal` the worker is terminated and the leftovers this write made are cleared,
// a moved-aside previous export put back where it was.

import { existsSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fromWire } from '../electron/backend/jobs/engine.ts';
import type { BundleResult, MakeBundleInput } from '../native-runtime/adapters/bundle.ts';
import { ReftError, type WireError } from '../native-runtime/errors.ts';
import { folderLeftoverNames, sweepFolderLeftovers } from '../native-runtime/formats/atomic-write.ts';

/**
 * What a stopped export left at its folder: `nothing` (there was none and none was written),
 * `kept` (the previous export, unchanged), `complete` (the new one had already arrived whole).
 */
export type StoppedExport = 'nothing' | 'kept' | 'complete';

// Plain JavaScript, evaluated in the worker: it registers the TypeScript loader (tsx) as
// bin/reft-studio.js does, then runs makeBundle; an error comes back as plain data, as an engine
// process sends it (toWireError), and is thrown here as the engine's are (fromWire).
const WORKER = `
const { workerData: w, parentPort } = require('node:worker_threads');
(async () => {
  (await import(w.tsx)).register();
  const { toWireError } = await import(w.errors);
  try {
    const { makeBundle } = await import(w.bundle);
    parentPort.postMessage({ result: makeBundle(w.input) });
  } catch (e) {
    parentPort.postMessage({ error: toWireError(e) });
  }
})();
`;

type WorkerReply = { result: BundleResult } | { error: WireError };

/** The identity of folder `dir` (its inode), or null when there is none. */
function folderId(dir: string): number | null {
  return existsSync(dir) ? statSync(dir).ino : null;
}

/**
 * makeBundle(input) in a worker thread; `input.out` must be absolute (checkExportDestination's).
 * Resolves to its result, or, when `signal` aborts first, to what is left at `input.out`.
 */
export async function makeBundleStoppable(
  input: MakeBundleInput,
  signal: AbortSignal,
): Promise<{ result: BundleResult } | { stopped: StoppedExport }> {
  const before = folderId(input.out);
  const othersLeftovers = folderLeftoverNames(input.out);
  const worker = new Worker(WORKER, {
    eval: true,
    // The process's loader flags are not a worker's; it registers tsx itself.
    execArgv: [],
    workerData: {
      tsx: import.meta.resolve('tsx/esm/api'),
      bundle: new URL('../native-runtime/adapters/bundle.ts', import.meta.url).href,
      errors: new URL('../native-runtime/errors.ts', import.meta.url).href,
      input,
    },
  });
  const reply = await new Promise<WorkerReply | null>((done, fail) => {
    const stop = () => done(null);
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    worker.once('message', (m: WorkerReply) => done(m));
    worker.once('error', fail);
    worker.once('exit', () =>
      signal.aborted ? done(null) : fail(new ReftError('export-failed', 'the export stopped unexpectedly')),
    );
  });
  await worker.terminate();
  if (reply && 'result' in reply) return reply;
  if (reply) throw fromWire(reply.error);
  sweepFolderLeftovers(input.out, 0, othersLeftovers);
  const after = folderId(input.out);
  if (after === null) return { stopped: 'nothing' };
  return { stopped: after === before ? 'kept' : 'complete' };
}
