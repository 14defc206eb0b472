// A child process that must not outlive the process that started it (an engine process and its
// host; the CLI relaunched under the CUDA pack and its launcher): it notices when that parent is
// gone — even while its main thread is stuck in one long synchronous call (an ONNX Runtime run of a
// big model can take minutes on a CPU), where no 'disconnect' event or JavaScript check on that
// thread can run. A small worker thread watches instead: on Linux and macOS an orphan is re-parented
// (its ppid changes to 1 or a subreaper); Windows never re-parents, so the parent's pid is also
// asked whether it still runs.
// exitWithParent ends the process with SIGKILL at once: nothing on the main thread can run before
// the call returns, and everything the engine writes is written atomically, so a cut leaves the last
// checkpoint whole. stopWithParent first sends the process a signal its own handlers act on (a
// Ctrl-C's clean stop), and kills it only if it is still there after a grace period.

import { Worker } from 'node:worker_threads';

/** How often the watcher looks: a dead host's engine process is gone within about this long. */
export const PARENT_WATCH_MS = 250;

// Plain JavaScript, evaluated in the worker: no TypeScript loader, the same in a bundled app.
const WATCHER = `
const { workerData: w } = require('node:worker_threads');
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
const timer = setInterval(() => {
  if (process.ppid === w.parentPid && alive(w.parentPid)) return;
  clearInterval(timer);
  if (w.signal === 'SIGKILL') return process.kill(process.pid, 'SIGKILL');
  process.kill(process.pid, w.signal);
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), w.graceMs);
}, w.everyMs);
`;

interface Watch {
  parentPid: number;
  everyMs: number;
  signal: NodeJS.Signals;
  graceMs: number;
}

function watchParent(w: Watch): void {
  // execArgv [] : the worker needs none of the process's loader flags (tsx's --import).
  const watcher = new Worker(WATCHER, { eval: true, workerData: w, execArgv: [] });
  watcher.unref();
}

/** Ends this process once `parentPid` (by default its parent now) is gone. Never keeps it alive. */
export function exitWithParent(parentPid = process.ppid, everyMs = PARENT_WATCH_MS): void {
  watchParent({ parentPid, everyMs, signal: 'SIGKILL', graceMs: 0 });
}

/**
 * Once `parentPid` is gone, sends this process `signal` (its handlers stop the work cleanly), then
 * SIGKILL if it still runs `graceMs` later. Never keeps the process alive.
 */
export function stopWithParent(
  parentPid: number,
  o: { signal: NodeJS.Signals; graceMs: number; everyMs?: number },
): void {
  watchParent({ parentPid, everyMs: o.everyMs ?? PARENT_WATCH_MS, signal: o.signal, graceMs: o.graceMs });
}
