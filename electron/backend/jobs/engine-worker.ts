// Entry of the engine worker thread (see engine.ts). ONNX Runtime's calls are synchronous and block
// the thread that makes them, so the engine never runs on the backend's event loop: the host posts
//   {type: 'call', id, op, args}   → runs TASKS[op]; answers {type: 'result', id, value}
//                                    or {type: 'error', id, error: WireError}, with
//                                    {type: 'event', id, event, data} on the way
//   {type: 'cancel', id}           → aborts that call (training saves a checkpoint first)

import { parentPort } from 'node:worker_threads';
import { toWireError } from '../../../native-runtime/errors.ts';
import { type OpName, TASKS } from './engine-tasks.ts';

export type HostToWorker =
  | { type: 'call'; id: number; op: OpName; args: unknown }
  | { type: 'cancel'; id: number };

export type WorkerToHost =
  | { type: 'event'; id: number; event: string; data: unknown }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: { type: string; code: string; message: string } }
  | { type: 'ready' };

if (!parentPort) throw new Error('engine-worker.ts must run in a worker thread');
const port = parentPort;
const calls = new Map<number, AbortController>();

port.on('message', (msg: HostToWorker) => {
  if (msg.type === 'cancel') {
    calls.get(msg.id)?.abort();
    return;
  }
  if (msg.type !== 'call') return;
  const ac = new AbortController();
  calls.set(msg.id, ac);
  const task = TASKS[msg.op] as (
    a: unknown,
    e: (ev: string, d: unknown) => void,
    s: AbortSignal,
  ) => Promise<unknown>;
  const post = (m: WorkerToHost) => port.postMessage(m);
  Promise.resolve()
    .then(() => {
      if (!task) throw new Error(`unknown engine operation "${msg.op}"`);
      return task(msg.args, (event, data) => post({ type: 'event', id: msg.id, event, data }), ac.signal);
    })
    .then(
      (value) => post({ type: 'result', id: msg.id, value }),
      (err) => post({ type: 'error', id: msg.id, error: toWireError(err) }),
    )
    .finally(() => calls.delete(msg.id));
});

port.postMessage({ type: 'ready' } satisfies WorkerToHost);
