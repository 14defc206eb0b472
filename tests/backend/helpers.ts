// Shared helpers for backend integration tests: temp folders, a fake built renderer, spawning the
// real CLI, a tiny RPC client over the WebSocket, and requests to an in-process backend (and whether
// a long one leaves its loop free).

import assert from 'node:assert/strict';
import { type ChildProcess, type StdioOptions, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { LibraryChange } from '../../electron/backend/events.ts';
import type { Backend } from '../../electron/backend/host.ts';
import { appRoot } from '../../electron/backend/paths.ts';
import type { ServerMessage } from '../../electron/backend/rpc/envelope.ts';
import { tempDir as sharedTempDir } from '../helpers/temp.ts';

export const ROOT = appRoot();
export const BIN = join(ROOT, 'bin', 'reft-studio.js');

/** A temp folder removed when the test file's process exits. */
export function tempDir(prefix: string): string {
  return sharedTempDir(`reft-${prefix}-`);
}

/** A minimal stand-in for renderer/dist, plus a secret file next to it for traversal tests. */
export function fakeRenderer(root: string): string {
  const dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(
    join(dist, 'index.html'),
    '<!doctype html><title>ReFT Studio</title><script type="module" src="/assets/app.js"></script>',
  );
  writeFileSync(join(dist, 'assets', 'app.js'), 'console.log("app")');
  writeFileSync(join(dist, 'assets', 'style.css'), 'body{}');
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  return dist;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The CLI run synchronously with a deadline: a command that never ends is killed and reads as such
 * (`killed`). Synchronous and SIGKILL because a command stuck in a synchronous call (Node's recursive
 * mkdir spinning under /proc) runs no SIGTERM handler and no timer.
 */
export function cliWithin(
  seconds: number,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { code: number | null; killed: boolean; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: seconds * 1000,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, killed: r.signal !== null, stderr: r.stderr };
}

/**
 * Runs the CLI with `signal` (SIGKILL unless given) sent to it at the rename onto `path`
 * (tests/helpers/kill-at-rename.cjs): `before` or `after` it.
 */
export function cliKilledAtRename(
  when: 'before' | 'after',
  path: string,
  args: string[],
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<CliResult> {
  return runCli(args, {
    REFT_TEST_KILL_AT_RENAME: `${when}:${path}`,
    REFT_TEST_KILL_SIGNAL: signal,
    // Quoted: NODE_OPTIONS splits at spaces, and the checkout's path may hold some.
    NODE_OPTIONS: `--require="${join(ROOT, 'tests', 'helpers', 'kill-at-rename.cjs')}"`,
  });
}

/** stdout as `--json` must print it: exactly one JSON object, on one line. */
export function oneJsonObject(stdout: string): Record<string, unknown> {
  assert.equal(stdout.trim().split('\n').length, 1, `one line on stdout: ${stdout}`);
  const v = JSON.parse(stdout);
  assert.equal(typeof v, 'object');
  assert.ok(v !== null && !Array.isArray(v));
  return v;
}

/** The one JSON object a `--json` command prints, run on the library in `dataDir` (exit 0 asserted). */
// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
export async function cliJson(dataDir: string, ...args: string[]): Promise<any> {
  const r = await runCli([...args, '--json', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Spawns `reft-studio serve` and resolves with the URL it prints; `as` runs it as another user. */
export function spawnServe(
  args: string[],
  as?: { uid: number; gid: number },
): Promise<{ child: ChildProcess; url: URL; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...as,
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^ReFT Studio is serving at (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: new URL(m[1]), stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** Connects to /rpc; rejects with the HTTP status if the upgrade is refused. */
export function connect(url: string, headers: Record<string, string> = {}): Promise<RpcClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(new RpcClient(ws)));
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once('error', reject);
  });
}

export class RpcClient {
  #next = 1;
  #pending = new Map<number, { resolve: (m: ServerMessage) => void }>();
  pushes: ServerMessage[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      if (m.type === 'push') this.pushes.push(m);
      else if (m.id != null) this.#pending.get(m.id)?.resolve(m);
    });
    ws.on('error', () => {});
  }
  /** Sends a request and resolves with the whole reply or error envelope. */
  call(method: string, params: unknown = {}): Promise<ServerMessage> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve });
      this.ws.send(JSON.stringify({ type: 'request', id, method, params }));
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

/** Calls a method and returns its result; fails the test with the error otherwise. */
// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
export async function rpc<T = any>(c: RpcClient, method: string, params: unknown = {}): Promise<T> {
  const m = await c.call(method, params);
  if (m.type !== 'reply') throw new Error(`${method} failed: ${JSON.stringify(m)}`);
  return m.result as T;
}

/** Polls `fn` until it returns a truthy value (bounded: fails after `timeoutMs`). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Connects to a spawned server's RPC endpoint. */
export function connectTo(url: URL): Promise<RpcClient> {
  return connect(`ws://127.0.0.1:${url.port}/rpc?token=${url.searchParams.get('token')}`);
}

export const LLAMA_FIXTURE = join(ROOT, 'tests', 'fixtures', 'golden', 'models', 'llama');

/** A small prompt/completion JSONL (n rows), with `broken` lines of bad JSON or bad rows mixed in. */
export function writeJsonl(path: string, n: number, broken: number[] = []): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
    );
  }
  for (const at of broken) lines.splice(at, 0, at % 2 ? '{"prompt": "no completion"}' : '{broken json');
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Starts a run (`runs/start` with `params`) and waits for it to complete: its `runs/get` record.
 */
export async function completedRun(
  b: Backend,
  // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
  call: (method: string, params: unknown) => Promise<any>,
  params: Record<string, unknown>,
  // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
): Promise<any> {
  const { runId } = await call('runs/start', params);
  return waitFor('the run', async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: runId });
    return r.status === 'completed' ? r : null;
  });
}

/** `root`/big.jsonl: 60,000 rows of about 100 words, seconds to tokenize (a count to stop). */
export function writeCountingFile(root: string): string {
  const words = 'the quick brown fox jumps over a lazy dog while pirates sing about gold'.split(' ');
  const text = (i: number, n: number) =>
    Array.from({ length: n }, (_, k) => words[(i * 7 + k * 3) % 12]).join(' ');
  const file = join(root, 'big.jsonl');
  const rows = Array.from({ length: 60_000 }, (_, i) =>
    JSON.stringify({ prompt: `Q${i}: ${text(i, 60)}?`, completion: ` ${text(i + 1, 40)}` }),
  );
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

/**
 * Imports two versions to count tokens of: `big`, 60,000 long rows (a count of a minute on a loaded
 * 2-core machine, long enough to stop), and `small`, 8 rows (a count that answers at once).
 */
export async function importCountingDatasets(
  call: (method: string, params: unknown) => Promise<{ dataset: { id: number } }>,
  root: string,
): Promise<{ big: number; small: number }> {
  const big = (await call('datasets/import', { path: writeCountingFile(root) })).dataset.id;
  const few = join(root, 'few.jsonl');
  writeJsonl(few, 8);
  const small = (await call('datasets/import', { path: few })).dataset.id;
  return { big, small };
}

/**
 * `reft-studio train` of the llama fixture on `rows` (64 rows make 4 steps an epoch at batch 16),
 * up to 500 steps, in its own process on `dataDir`: the CLI training beside a studio. `extra`
 * flags go before --data-dir (`--json`).
 */
export function spawnCliTraining(
  rows: string,
  dataDir: string,
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
  extra: string[] = [],
) {
  const args = [
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    rows,
    '--batch-size',
    '16',
    '--max-steps',
    '500',
  ];
  return spawn(process.execPath, [BIN, ...args, ...extra, '--data-dir', dataDir], { cwd: ROOT, stdio });
}

/**
 * Starts `method`, then the cheap datasets/list, through `call` (an in-process backend's, see
 * inProcess); says which answered first and prints the event loop's longest stall meanwhile. An
 * order, not a time: a call that holds the RPC loop answers before the cheap one is even looked at.
 */
export async function whileBusy(
  call: (method: string, params?: unknown) => Promise<unknown>,
  method: string,
  params: unknown,
): Promise<{ order: string[]; result: unknown }> {
  const order: string[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  await new Promise((r) => setTimeout(r, 20)); // a stall before the monitor's first tick goes unseen
  const long = call(method, params).then((r) => {
    order.push(method);
    return r;
  });
  const cheap = call('datasets/list').then(() => order.push('datasets/list'));
  const [result] = await Promise.all([long, cheap]);
  await new Promise((r) => setTimeout(r, 30)); // the monitor's timer records a stall when it next fires
  lag.disable();
  console.log(`# ${method}: longest event-loop stall ${(lag.max / 1e6).toFixed(0)} ms`);
  return { order, result };
}

/**
 * Runs `method` while the cheap datasets/list is asked every 20 ms, as another window would; returns
 * the slowest answer, timed from when it was due (a timer held back by a stalled loop counts), how
 * long the loop was busy meanwhile (not idle, waiting for events), and the long call's result. A
 * time, for work that yields only part of the way: whileBusy's order is already right when the loop
 * is held only after the first turn (a file read before it is parsed).
 */
export async function slowestAnswerDuring(
  call: (method: string, params?: unknown) => Promise<unknown>,
  method: string,
  params: unknown,
): Promise<{ slowestMs: number; busyMs: number; result: unknown }> {
  let done = false;
  let slowestMs = 0;
  const elu = performance.eventLoopUtilization();
  const long = call(method, params).finally(() => {
    done = true;
  });
  const pings = (async () => {
    for (let due = performance.now() + 20; !done; due += 20) {
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      // A stall at the long call's very end delays this timer too, though the call is done by now.
      slowestMs = Math.max(slowestMs, performance.now() - due);
      if (done) break;
      await call('datasets/list');
      slowestMs = Math.max(slowestMs, performance.now() - due);
      due = Math.max(due, performance.now()); // the next one is due 20 ms after this answer at the latest
    }
  })();
  const [result] = await Promise.all([long, pings]);
  const busyMs = performance.eventLoopUtilization(elu).active;
  console.log(
    `# ${method}: slowest datasets/list answer ${slowestMs.toFixed(0)} ms, loop busy ${busyMs.toFixed(0)} ms`,
  );
  return { slowestMs, busyMs, result };
}

/**
 * Requests to an in-process backend (`createBackend`), as the window sends them: `call` resolves with
 * the result or throws an Error carrying the error's code; `callError` expects a refusal and returns
 * it; `upload` sends files {path → bytes} in chunks (begin, chunks in order, finish). `backend` is read
 * on every request, so a test file may create its backend in `before`.
 */
export function inProcess(backend: () => Backend) {
  let nextId = 1;
  // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
  async function call<T = any>(method: string, params: unknown = {}): Promise<T> {
    const r = await backend().handle({ type: 'request', id: nextId++, method, params });
    if (r.type !== 'reply')
      throw Object.assign(new Error(`${method}: ${r.error.message}`), { code: r.error.code });
    return r.result as T;
  }
  async function callError(method: string, params: unknown): Promise<{ code: string; message: string }> {
    const r = await backend().handle({ type: 'request', id: nextId++, method, params });
    assert.equal(r.type, 'error', `${method} should fail`);
    return (r as { error: { code: string; message: string } }).error;
  }
  async function upload(
    kind: 'dataset' | 'adapter',
    files: Record<string, Uint8Array | string>,
    chunk: number,
  ): Promise<string> {
    const list = Object.entries(files).map(([path, d]) => ({ path, size: Buffer.byteLength(d) }));
    const { uploadId } = await call('files/upload-begin', { kind, files: list });
    for (const [path, d] of Object.entries(files)) {
      const data = Buffer.from(d);
      for (let off = 0; off < data.length; off += chunk) {
        const piece = data.subarray(off, off + chunk).toString('base64');
        await call('files/upload-chunk', { uploadId, path, offset: off, data: piece });
      }
    }
    await call('files/upload-finish', { uploadId });
    return uploadId;
  }
  /** Waits until run `id`'s job has returned (a cancelled job still checkpoints) and it is in `states`. */
  const settled = (id: number, states: string[], timeoutMs?: number, everyMs?: number) =>
    waitFor(
      `run ${id} to settle`,
      async () => {
        await backend().jobs.idle();
        const r = await call('runs/get', { id });
        return states.includes(r.status) ? r : null;
      },
      timeoutMs,
      everyMs,
    );
  return { call, callError, upload, settled };
}

/** The 'library/changed' pushes a backend sends from now on, and a wait for one matching `want`. */
export function libraryPushes(b: Pick<Backend, 'events'>) {
  const changes: LibraryChange[] = [];
  b.events.onAny((topic, data) => {
    if (topic === 'library/changed') changes.push(data as LibraryChange);
  });
  const seen = (want: Partial<LibraryChange>, timeoutMs = 20_000) =>
    waitFor(
      `a push ${JSON.stringify(want)}`,
      async () =>
        changes.find((c) => Object.entries(want).every(([k, v]) => c[k as keyof LibraryChange] === v)),
      timeoutMs,
    );
  return { changes, seen };
}
