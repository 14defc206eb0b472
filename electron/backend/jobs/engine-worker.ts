// Entry of an engine process (see engine.ts). ONNX Runtime's calls are synchronous and block the
// process that makes them, so the engine never runs on the backend's event loop. Over the IPC channel
// (serialization 'advanced': structured clone) the host sends
//   {type: 'call', id, op, args, env}  → runs TASKS[op] under the host's environment `env`; answers
//                                        {type: 'result', id, value} or
//                                        {type: 'error', id, error: WireError (fs-errors.ts
//                                        plainError)}, with
//                                        {type: 'event', id, event, data} on the way
//   {type: 'cancel', id}               → aborts that call (training saves a checkpoint first)
// When the host goes away this process exits at once, even in the middle of an ONNX Runtime call
// (parent-watch.ts): it must never go on writing to a run folder that a restarted studio is about to
// resume, nor hold a model's memory for nobody.

import type { WireError } from '../../../native-runtime/errors.ts';
import { plainError } from '../../../native-runtime/fs-errors.ts';
import { exitWithParent } from '../../../native-runtime/parent-watch.ts';
import { processAlive } from '../../../native-runtime/process-alive.ts';
import { armTokenizeWatchdog, REPORT_FD } from '../../../native-runtime/tokenizer/tokenize-watchdog.ts';
import { type OpName, TASKS } from './engine-tasks.ts';

export type HostToWorker =
  | { type: 'call'; id: number; op: OpName; args: unknown; env: Record<string, string | undefined> }
  | { type: 'cancel'; id: number };

export type WorkerToHost =
  | { type: 'event'; id: number; event: string; data: unknown }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'ready' };

/**
 * Variables this process keeps from its own start: the loader read them already (the CUDA pack's
 * library path), or they tell Electron's binary to act as Node.
 */
const OWN_ENV = new Set(['LD_LIBRARY_PATH', 'REFT_STUDIO_ENGINE_ENV', 'ELECTRON_RUN_AS_NODE']);

/** The host's environment for this call (Settings may have changed HF_TOKEN or the thread count). */
function adoptEnv(env: Record<string, string | undefined>): void {
  for (const k of Object.keys(process.env))
    if (!OWN_ENV.has(k) && env[k] === undefined) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (!OWN_ENV.has(k) && v !== undefined) process.env[k] = v;
}

if (!process.send) throw new Error('engine-worker.ts must run in a process started with an IPC channel');
const hostPid = process.ppid;
// A watcher thread: the host's death ends this process even while an ONNX Runtime call blocks it.
exitWithParent(hostPid);
// Another: a tokenization past its deadline (a hostile tokenizer.json) is reported to the host on
// the pipe engine.ts opens as REPORT_FD, and the host kills this process.
armTokenizeWatchdog(REPORT_FD);
/**
 * Nothing is sent to a host that is gone. 'disconnect' comes only when the event loop turns, and the
 * watcher looks only every so often; the parent's pid, read on every report, changes the moment the
 * host dies (the process is re-parented). Windows never re-parents, so there the host's pid is also
 * asked whether it still runs.
 */
function exitIfOrphaned(): void {
  if (process.ppid !== hostPid || !process.connected || !processAlive(hostPid)) process.exit(0);
}
const send = (m: WorkerToHost) => {
  exitIfOrphaned();
  process.send?.(m);
};
const calls = new Map<number, AbortController>();

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: HostToWorker) => {
  if (msg.type === 'cancel') {
    calls.get(msg.id)?.abort();
    return;
  }
  if (msg.type !== 'call') return;
  adoptEnv(msg.env);
  const ac = new AbortController();
  calls.set(msg.id, ac);
  const task = TASKS[msg.op] as (
    a: unknown,
    e: (ev: string, d: unknown) => void,
    s: AbortSignal,
  ) => Promise<unknown>;
  Promise.resolve()
    .then(() => {
      if (!task) throw new Error(`unknown engine operation "${msg.op}"`);
      return task(msg.args, (event, data) => send({ type: 'event', id: msg.id, event, data }), ac.signal);
    })
    .then(
      (value) => send({ type: 'result', id: msg.id, value }),
      // Node's file errors keep the code they have in-process ('disk-full', not 'internal'); the
      // host shows their paths as people know them (rpc/user-errors.ts).
      (err) => send({ type: 'error', id: msg.id, error: plainError(err) }),
    )
    .finally(() => calls.delete(msg.id));
});

send({ type: 'ready' });
