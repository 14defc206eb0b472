// A child process that must not outlive the process that started it (an engine process and its
// host): it ends itself, at once, when that parent is gone — even while its main thread is stuck in
// one long synchronous call (an ONNX Runtime run of a big model can take minutes on a CPU), where
// no 'disconnect' event or JavaScript check on that thread can run. A small worker thread watches
// instead: on Linux and macOS an orphan is re-parented (its ppid changes to 1 or a subreaper);
// Windows never re-parents, so the parent's pid is also asked whether it still runs.
// It ends the process with SIGKILL: nothing on the main thread can run before the call returns, and
// everything the engine writes is written atomically, so a cut leaves the last checkpoint whole.

import { Worker } from 'node:worker_threads';

/** How often the watcher looks: a dead host's engine process is gone within about this long. */
export const PARENT_WATCH_MS = 250;

// Plain JavaScript, evaluated in the worker: no TypeScript loader, the same in a bundled app.
const WATCHER = `
const { workerData: w } = require('node:worker_threads');
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
setInterval(() => {
  if (process.ppid !== w.parentPid || !alive(w.parentPid)) process.kill(process.pid, 'SIGKILL');
}, w.everyMs);
`;

/** Ends this process once `parentPid` (by default its parent now) is gone. Never keeps it alive. */
export function exitWithParent(parentPid = process.ppid, everyMs = PARENT_WATCH_MS): void {
  // execArgv [] : the worker needs none of the process's loader flags (tsx's --import).
  const watcher = new Worker(WATCHER, { eval: true, workerData: { parentPid, everyMs }, execArgv: [] });
  watcher.unref();
}
