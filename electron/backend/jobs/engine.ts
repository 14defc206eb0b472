// The engine as the backend sees it: `engine.call(op, args, {onEvent, signal})` runs one engine
// operation (engine-tasks.ts) and resolves with its result. Two implementations:
//   WorkerEngine     the studio (Electron utility process and `reft-studio serve`): the work runs in
//                    worker threads, so ONNX Runtime's blocking calls never stall the RPC loop. Three
//                    lanes, each one thread started on first use: 'train' (training, calibration),
//                    'infer' (generation, evaluation), so the playground answers during a run, and
//                    'files' (reading adapter folders for import, counting a dataset's tokens,
//                    finding duplicate rows, writing exports and their zips).
//   InProcessEngine  the CLI, where blocking the only loop is fine.
// Aborting `signal` cancels the operation (training checkpoints first). A worker that dies fails its
// calls with 'engine-crashed' and is started again on the next call.
// Workers run the TypeScript sources through tsx (registered in the worker), so a fresh clone works
// without a build; a bundled app ships `engine-worker.cjs` next to the bundle instead.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { CancelledError, ReftError, type WireError } from '../../../native-runtime/errors.ts';
import type { EngineOps, OpName } from './engine-tasks.ts';
import type { HostToWorker, WorkerToHost } from './engine-worker.ts';

export interface CallOptions<O extends OpName> {
  onEvent?: <E extends keyof EngineOps[O]['events'] & string>(
    event: E,
    data: EngineOps[O]['events'][E],
  ) => void;
  signal?: AbortSignal;
}

export interface Engine {
  call<O extends OpName>(
    op: O,
    args: EngineOps[O]['args'],
    opts?: CallOptions<O>,
  ): Promise<EngineOps[O]['result']>;
  /** Stops every worker (running calls fail with 'engine-closed'). */
  close(): Promise<void>;
}

/** An error that happened inside the engine, carried over as data (its original type kept in `name`). */
export class EngineError extends ReftError {
  constructor(w: WireError) {
    super(w.code, w.message);
    this.name = w.type;
  }
}

export function fromWire(w: WireError): Error {
  return w.code === 'cancelled' ? new CancelledError(w.message) : new EngineError(w);
}

const LANE: Record<OpName, 'train' | 'infer' | 'files'> = {
  train: 'train',
  calibrate: 'train',
  generate: 'infer',
  evaluate: 'infer',
  // Reading adapter folders: its own lane, so an import neither waits for nor stalls the others.
  prepareImport: 'files',
  // Counting a dataset's tokens: beside the imports, never behind a training run.
  tokenLengths: 'files',
  findDuplicates: 'files',
  exportAdapter: 'files',
  exportAdapterZip: 'files',
};

/** How to start a worker: the bundled .cjs, or the TypeScript source through tsx's ESM hooks. */
function workerSpec(): { code: string; eval: boolean } {
  const here = dirname(fileURLToPath(import.meta.url));
  const ts = join(here, 'engine-worker.ts');
  if (existsSync(ts)) {
    // Node 20 checks a worker's file extension before any --import hook runs, so a tiny eval'd
    // bootstrap registers tsx in the worker and then imports the TypeScript entry.
    const require = createRequire(import.meta.url);
    const api = pathToFileURL(
      join(dirname(require.resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs'),
    );
    const entry = pathToFileURL(ts);
    const code = `import(${JSON.stringify(api.href)}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); });`;
    return { code, eval: true };
  }
  return { code: join(here, 'engine-worker.cjs'), eval: false };
}

interface Pending {
  onEvent?: (event: string, data: unknown) => void;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

class Lane {
  #worker: Worker | null = null;
  #pending = new Map<number, Pending>();
  #closed = false;

  constructor(readonly name: string) {}

  get busy(): boolean {
    return this.#pending.size > 0;
  }

  #spawn(): Worker {
    const spec = workerSpec();
    // SHARE_ENV: a preference changed in Settings (threads, HF_TOKEN) reaches sessions made afterwards.
    const w = new Worker(spec.code, { eval: spec.eval, name: `reft-engine-${this.name}`, env: SHARE_ENV });
    w.on('message', (m: WorkerToHost) => {
      if (m.type === 'ready') return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      if (m.type === 'event') p.onEvent?.(m.event, m.data);
      else {
        this.#pending.delete(m.id);
        if (m.type === 'result') p.resolve(m.value);
        else p.reject(fromWire(m.error));
      }
    });
    const fail = (why: string) => {
      if (this.#worker === w) this.#worker = null;
      const err = new ReftError(this.#closed ? 'engine-closed' : 'engine-crashed', why);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    w.on('error', (e) => fail(`the engine worker failed: ${e.message}`));
    w.on('exit', (code) => fail(`the engine worker stopped (exit code ${code})`));
    // An idle worker must not keep the process alive.
    w.unref();
    return w;
  }

  call(id: number, op: OpName, args: unknown, opts: CallOptions<OpName>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ReftError('engine-closed', 'the engine is shut down'));
    this.#worker ??= this.#spawn();
    const w = this.#worker;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { onEvent: opts.onEvent as Pending['onEvent'], resolve, reject });
      const onAbort = () => w.postMessage({ type: 'cancel', id } satisfies HostToWorker);
      if (opts.signal?.aborted) queueMicrotask(onAbort);
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
      w.ref();
      w.postMessage({ type: 'call', id, op, args } satisfies HostToWorker);
    }).finally(() => {
      if (!this.#pending.size) this.#worker?.unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }
}

export class WorkerEngine implements Engine {
  #nextId = 1;
  #lanes = new Map<string, Lane>();

  call<O extends OpName>(
    op: O,
    args: EngineOps[O]['args'],
    opts: CallOptions<O> = {},
  ): Promise<EngineOps[O]['result']> {
    const name = LANE[op];
    if (!name) return Promise.reject(new ReftError('unknown-operation', `unknown engine operation "${op}"`));
    let lane = this.#lanes.get(name);
    if (!lane) {
      lane = new Lane(name);
      this.#lanes.set(name, lane);
    }
    return lane.call(this.#nextId++, op, args, opts as CallOptions<OpName>) as Promise<
      EngineOps[O]['result']
    >;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#lanes.values()].map((l) => l.close()));
  }
}

export class InProcessEngine implements Engine {
  async call<O extends OpName>(
    op: O,
    args: EngineOps[O]['args'],
    opts: CallOptions<O> = {},
  ): Promise<EngineOps[O]['result']> {
    // Loaded on first use: the engine pulls in onnxruntime-node.
    const { TASKS } = await import('./engine-tasks.ts');
    const task = TASKS[op] as unknown as (
      a: unknown,
      e: (ev: string, d: unknown) => void,
      s: AbortSignal,
    ) => Promise<EngineOps[O]['result']>;
    const signal = opts.signal ?? new AbortController().signal;
    return task(
      args,
      (ev, d) => (opts.onEvent as ((e: string, x: unknown) => void) | undefined)?.(ev, d),
      signal,
    );
  }

  async close(): Promise<void> {}
}
