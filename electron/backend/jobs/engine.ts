// The engine as the backend sees it: `engine.call(op, args, {onEvent, signal})` runs one engine
// operation (engine-tasks.ts) and resolves with its result. Two implementations:
//   WorkerEngine     the studio (Electron utility process and `reft-studio serve`): the work runs in
//                    engine processes, so ONNX Runtime's blocking calls never stall the RPC loop. Five
//                    lanes, each one process started on first use: 'train' (training, calibration),
//                    'infer' (generation, evaluation), so the playground answers during a run, and
//                    'files' (reading adapter folders and dataset files for import, scanning for
//                    models, finding duplicate rows, writing exports and their zips, unpacking
//                    uploaded zips),
//                    'tokens' (the Train wizard's example preview and probe prompts' check, and
//                    its memory check: a model's tokenizer.json may hold a pattern that backtracks
//                    for hours, and a tokenization past its deadline gets the process killed —
//                    native-runtime/tokenizer/tokenize-watchdog.ts) and
//                    'counts' (counting a dataset's tokens: minutes for a big version, which the
//                    wizard's preview waited behind — 153 s for 200,000 rows — when they shared
//                    'tokens', and a Stop could kill a count's process only while no preview waited).
//   InProcessEngine  the CLI, where blocking the only loop is fine.
// Processes rather than worker threads, for two reasons: a process starts with the library path of a
// CUDA runtime pack installed after the studio started (cuda-pack.ts engineEnv; the dynamic loader
// reads it only at process start), and a crash inside ONNX Runtime or a GPU driver ends that process
// only, not the backend with its open tabs.
// Aborting `signal` cancels the operation (training checkpoints first). A process that dies fails its
// calls with 'engine-crashed' (a run becomes resumable) and is started again on the next call; one
// whose watchdog reported a tokenization past its deadline is killed by the host and fails its calls
// with 'tokenizer-too-slow', naming the tokenizer.json.
// Engine processes run the TypeScript sources through tsx (`--import`), so a fresh clone works
// without a build; a bundled app ships `engine-worker.cjs` next to the bundle instead (Electron's
// binary runs it as Node through ELECTRON_RUN_AS_NODE: packaging must leave the RunAsNode fuse on).
// An engine process's stderr is a pipe the host passes on to its own stderr (serve's terminal,
// Electron's log) line by line, without Dawn's native notices (native-stderr.ts) that a WebGPU
// session prints as it opens; everything else — a driver's error, a crash's last words — passes.

import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CancelledError, errorDetails, ReftError, type WireError } from '../../../native-runtime/errors.ts';
import { engineEnv } from '../../../native-runtime/runtime/cuda-pack.ts';
import { forwardNativeStderr } from '../../../native-runtime/runtime/native-stderr.ts';
import {
  REPORT_FD,
  type TokenizeTimeout,
  tokenizeTimeoutError,
} from '../../../native-runtime/tokenizer/tokenize-watchdog.ts';
import type { EngineOps, OpName } from './engine-tasks.ts';
import type { HostToWorker, WorkerToHost } from './engine-worker.ts';

export interface CallOptions<O extends OpName> {
  onEvent?: <E extends keyof EngineOps[O]['events'] & string>(
    event: E,
    data: EngineOps[O]['events'][E],
  ) => void;
  signal?: AbortSignal;
  /**
   * For work that keeps nothing (a speed measurement): aborting `signal` kills its engine process
   * when it is that process's only call, rather than asking it to stop, which it hears only between
   * two ONNX Runtime calls (a large model's training step blocks it for minutes). The call fails with
   * 'cancelled' and the lane's next call starts a fresh process. No-op in-process.
   */
  killOnAbort?: boolean;
}

export interface Engine {
  call<O extends OpName>(
    op: O,
    args: EngineOps[O]['args'],
    opts?: CallOptions<O>,
  ): Promise<EngineOps[O]['result']>;
  /**
   * Engine processes start again under the current environment: idle ones now, busy ones once their
   * calls end (after a CUDA runtime pack was installed or removed). No-op in-process.
   */
  refresh(): void;
  /** Stops every engine process (running calls fail with 'engine-closed'). */
  close(): Promise<void>;
  /** Kills every engine process now, synchronously: for a host about to exit without waiting. */
  killNow(): void;
}

/**
 * An error that happened inside the engine, carried over as data: its original type kept in `name`,
 * and what it said beside the message — the option it is about (`field`), its `details` (a refused
 * file's columns) — so that toWireError gives the same as for the error thrown in-process.
 */
export class EngineError extends ReftError {
  readonly field?: string;
  constructor(w: WireError) {
    super(w.code, w.message, { details: errorDetails(w.details) });
    this.name = w.type;
    if (typeof w.field === 'string') this.field = w.field;
  }
}

export function fromWire(w: WireError): Error {
  return w.code === 'cancelled' ? new CancelledError(w.message) : new EngineError(w);
}

const LANE: Record<OpName, 'train' | 'infer' | 'files' | 'tokens' | 'counts'> = {
  train: 'train',
  calibrate: 'train',
  generate: 'infer',
  evaluate: 'infer',
  // Reading adapter folders: its own lane, so an import neither waits for nor stalls the others.
  prepareImport: 'files',
  // Parsing a dataset file: a CSV or JSON document whole, a Parquet row group at once.
  prepareDatasetImport: 'files',
  frozenRowHashes: 'files',
  // Counting a version's tokens: minutes for a big one, in a lane of its own so that the Train
  // wizard's preview never waits behind it, and stopping it (its process killed) kills nothing else.
  tokenLengths: 'counts',
  // The tokenizer's work for the wizard (its preview and probe prompts): its own lane, so that a
  // tokenizer past its deadline (tokenize-watchdog.ts) gets only its own process killed, never an
  // import or an export beside it.
  previewTokens: 'tokens',
  checkProbePrompts: 'tokens',
  // Plans the run's sessions (a WebGPU probe at most, once per process): never behind a training run.
  trainingStartIssue: 'tokens',
  findDuplicates: 'files',
  exportAdapter: 'files',
  exportAdapterZip: 'files',
  // Inflating an uploaded zip: seconds for a big one, which on the RPC loop froze every window.
  unpackUpload: 'files',
  // Reading every model of a cache or folder: a minute for hundreds, on the RPC loop froze every window.
  scanModels: 'files',
  processInfo: 'infer',
};

/** How to start an engine process: the bundled .cjs, or the TypeScript source under tsx's loader. */
function workerSpec(): { file: string; execArgv: string[] } {
  const here = dirname(fileURLToPath(import.meta.url));
  const ts = join(here, 'engine-worker.ts');
  if (existsSync(ts)) {
    const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx'));
    return { file: ts, execArgv: ['--import', loader.href] };
  }
  return { file: join(here, 'engine-worker.cjs'), execArgv: [] };
}

/** The lanes whose processes hold ONNX Runtime sessions (mallocEnv). */
const SESSION_LANES = new Set(['infer', 'train']);

/**
 * glibc malloc's settings for the lanes holding sessions, on Linux, read once at process start.
 * glibc raises the size from which an allocation gets a mapping of its own (given back when freed) as big blocks
 * are freed, up to 32 MiB; a quantized session's pre-packed weights (MBs a matrix) then came from
 * its heaps and stayed there after the session's release: TinyLlama's shape in int8, a Playground
 * session and an evaluation released, 1.40 GB anonymous memory kept → 0.09 GB with a fixed 128 KiB,
 * the same peak and decoding speed, ~9% more CPU to open a session (ARCHITECTURE.md, Weights in
 * memory); a released int8 training session, 2.27 → 0.09 GB, its steps as fast. MALLOC_ARENA_MAX=2
 * and ORT's enableCpuMemArena off kept as much. The user's own setting wins. Other systems: unchanged.
 */
function mallocEnv(lane: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (process.platform !== 'linux' || !SESSION_LANES.has(lane) || env.MALLOC_MMAP_THRESHOLD_ !== undefined)
    return {};
  return { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) };
}

/**
 * The environment an engine process of `lane` starts with: the backend's, with the CUDA pack's
 * library path when a pack is installed (whether or not this process started with it), and malloc's
 * settings (mallocEnv).
 */
function processEnv(lane: string, dataDir: string | undefined): NodeJS.ProcessEnv {
  let env: NodeJS.ProcessEnv | null = null;
  try {
    env = dataDir ? engineEnv(dataDir) : null;
  } catch {
    env = null; // a broken pack must not stop the engine; Settings' NVIDIA GPU runtime section explains it
  }
  const base = env ?? process.env;
  return { ...base, ...mallocEnv(lane, base), ELECTRON_RUN_AS_NODE: '1' };
}

interface Pending {
  onEvent?: (event: string, data: unknown) => void;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** One engine process and the calls it has not answered yet. */
interface Proc {
  child: ChildProcess;
  pending: Map<number, Pending>;
  /** Why the host killed it (its watchdog's report), for the calls it fails. */
  killed?: ReftError;
}

/** A watchdog report (tokenize-watchdog.ts) as the error the killed process's calls fail with. */
function reportedError(line: string): ReftError | null {
  let r: Partial<TokenizeTimeout>;
  try {
    r = JSON.parse(line);
  } catch {
    return null;
  }
  if (r.type !== 'tokenize-timeout') return null;
  return tokenizeTimeoutError(
    r.file ?? 'tokenizer.json',
    r.deadlineMs ?? 0,
    'the engine process was stopped',
  );
}

class Lane {
  #proc: Proc | null = null;
  #closed = false;
  /** Start a new process for the next call (the current one ends once idle). */
  #stale = false;

  constructor(
    readonly name: string,
    readonly dataDir: string | undefined,
  ) {}

  get busy(): boolean {
    return !!this.#proc?.pending.size;
  }

  get pid(): number | null {
    return this.#proc?.child.pid ?? null;
  }

  #spawn(): Proc {
    const spec = workerSpec();
    const child = fork(spec.file, [`--lane=${this.name}`], {
      execArgv: spec.execArgv,
      env: processEnv(this.name, this.dataDir),
      serialization: 'advanced',
      // stderr: passed on below; REPORT_FD: the watchdog's pipe (a tokenization past its deadline).
      stdio: ['ignore', 'inherit', 'pipe', 'ipc', 'pipe'],
    });
    if (child.stderr) {
      forwardNativeStderr(child.stderr, (s) => process.stderr.write(s));
      // Never what keeps the backend alive: a process it started (a WebGPU probe) may hold it open.
      (child.stderr as { unref?: () => void }).unref?.();
    }
    const proc: Proc = { child, pending: new Map() };
    const report = child.stdio[REPORT_FD] as NodeJS.ReadableStream & { unref?: () => void };
    report.unref?.(); // an idle engine process must not keep the backend alive
    let reported = '';
    report.on('data', (chunk: Buffer) => {
      reported += chunk.toString();
      const end = reported.indexOf('\n');
      if (end < 0 || proc.killed) return;
      proc.killed = reportedError(reported.slice(0, end)) ?? undefined;
      // Its main thread is stuck in the tokenizer: only a kill ends it.
      if (proc.killed) child.kill('SIGKILL');
    });
    child.on('message', (m: WorkerToHost) => {
      if (m.type === 'ready') return;
      const c = proc.pending.get(m.id);
      if (!c) return;
      if (m.type === 'event') c.onEvent?.(m.event, m.data);
      else {
        proc.pending.delete(m.id);
        if (m.type === 'result') c.resolve(m.value);
        else c.reject(fromWire(m.error));
      }
    });
    // Only this process's calls fail: a process replaced by refresh() may exit after its successor
    // has taken calls.
    const fail = (why: string) => {
      if (this.#proc === proc) {
        this.#proc = null;
        this.#stale = false; // the next call starts a process under the current environment anyway
      }
      const err = proc.killed ?? new ReftError(this.#closed ? 'engine-closed' : 'engine-crashed', why);
      for (const c of proc.pending.values()) c.reject(err);
      proc.pending.clear();
    };
    child.on('error', (e) => fail(`the engine process failed: ${e.message}`));
    child.on('exit', (code, signal) =>
      fail(
        `the engine process stopped (${signal ? `signal ${signal}` : `exit code ${code}`})` +
          // The kernel's out-of-memory killer is the usual sender of SIGKILL to a training process,
          // but a user's `kill -9` or task manager sends the same signal: the line must fit both.
          (signal === 'SIGKILL'
            ? ': it was killed, by the system when memory runs out or by hand (kill -9, a task manager)'
            : ''),
      ),
    );
    idle(child);
    return proc;
  }

  call(id: number, op: OpName, args: unknown, opts: CallOptions<OpName>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ReftError('engine-closed', 'the engine is shut down'));
    this.#proc ??= this.#spawn();
    const proc = this.#proc;
    const { child } = proc;
    return new Promise((resolve, reject) => {
      proc.pending.set(id, { onEvent: opts.onEvent as Pending['onEvent'], resolve, reject });
      const onAbort = () => {
        if (opts.killOnAbort && proc.pending.size === 1 && proc.pending.has(id) && !proc.killed) {
          proc.killed = new CancelledError();
          // The next call must not go to the dying process.
          if (this.#proc === proc) {
            this.#proc = null;
            this.#stale = false;
          }
          child.kill('SIGKILL');
        } else if (child.connected) child.send({ type: 'cancel', id } satisfies HostToWorker);
      };
      if (opts.signal?.aborted) queueMicrotask(onAbort);
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.ref();
      (child.channel as { ref?: () => void } | undefined)?.ref?.();
      child.send({ type: 'call', id, op, args, env: { ...process.env } } satisfies HostToWorker, (err) => {
        if (err && proc.pending.delete(id))
          reject(new ReftError('engine-crashed', `the engine process did not take the call: ${err.message}`));
      });
    }).finally(() => {
      if (proc.pending.size || this.#proc !== proc) return;
      if (this.#stale) this.#stop();
      else idle(child);
    });
  }

  /** See Engine.refresh. */
  refresh(): void {
    if (this.busy) this.#stale = true;
    else this.#stop();
  }

  #stop(): void {
    this.#stale = false;
    const child = this.#proc?.child;
    this.#proc = null;
    if (child?.connected) child.disconnect(); // the process exits on disconnect (engine-worker.ts)
  }

  killNow(): void {
    this.#closed = true;
    this.#proc?.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#proc?.child;
    this.#proc = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.ref(); // an idle process is unref'd: without this the loop could end before 'exit' comes
    child.kill('SIGKILL');
    await exited;
  }
}

/** An idle engine process must not keep the backend alive. */
function idle(child: ChildProcess): void {
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
}

export class WorkerEngine implements Engine {
  #nextId = 1;
  #lanes = new Map<string, Lane>();

  /** `dataDir`: where a CUDA runtime pack may be installed (engine processes start with its path). */
  constructor(readonly opts: { dataDir?: string } = {}) {}

  call<O extends OpName>(
    op: O,
    args: EngineOps[O]['args'],
    opts: CallOptions<O> = {},
  ): Promise<EngineOps[O]['result']> {
    const name = LANE[op];
    if (!name) return Promise.reject(new ReftError('unknown-operation', `unknown engine operation "${op}"`));
    let lane = this.#lanes.get(name);
    if (!lane) {
      lane = new Lane(name, this.opts.dataDir);
      this.#lanes.set(name, lane);
    }
    return lane.call(this.#nextId++, op, args, opts as CallOptions<OpName>) as Promise<
      EngineOps[O]['result']
    >;
  }

  refresh(): void {
    for (const l of this.#lanes.values()) l.refresh();
  }

  /** The live engine processes (tests and diagnostics). */
  processes(): { lane: string; pid: number }[] {
    return [...this.#lanes.values()].flatMap((l) => (l.pid ? [{ lane: l.name, pid: l.pid }] : []));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#lanes.values()].map((l) => l.close()));
  }

  killNow(): void {
    for (const l of this.#lanes.values()) l.killNow();
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

  refresh(): void {}

  async close(): Promise<void> {}

  killNow(): void {}
}
