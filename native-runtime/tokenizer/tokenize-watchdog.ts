// A deadline on every tokenization in an engine process. A tokenizer.json's patterns run as
// JavaScript RegExps, and a hostile one can backtrack for hours inside one synchronous encode: no
// cancel, timer or IPC message is heard until it returns (pattern-check.ts refuses the plain cases
// at load, not all). A small worker thread watches instead, as parent-watch.ts does for the host:
// the main thread marks each encode or decode in shared memory (two Atomics stores, nothing next to
// the tokenizer's own work), and one that runs past the deadline is reported on a pipe to the host,
// which kills the process and fails its calls with that line (jobs/engine.ts). Only engine processes
// arm it: the studio's own loop never tokenizes, and in the CLI nothing is armed.

import { Worker } from 'node:worker_threads';

/** How long one encode or decode may take: a long legitimate text takes a second or two. */
export const TOKENIZE_DEADLINE_MS = 30_000;

/** The file descriptor of the pipe an engine process reports on (jobs/engine.ts opens it). */
export const REPORT_FD = 4;

/** What the watcher writes on the report pipe, one JSON line, before the host kills the process. */
export interface TokenizeTimeout {
  type: 'tokenize-timeout';
  /** The tokenizer.json that was running. */
  file: string;
  deadlineMs: number;
}

// Plain JavaScript, evaluated in the worker: no TypeScript loader, the same in a bundled app.
// state[0]: the running tokenization's serial (0: none); state[1]: its tokenizer's number.
// The deadline is counted in the watcher's ticks, not by the clock: a computer that sleeps in the
// middle of an encode resumes with one overdue tick, not with 'hours late'.
const WATCHER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(w.state);
const files = new Map();
parentPort.on('message', (m) => files.set(m.id, m.file));
const tick = Math.min(250, w.deadlineMs / 4);
let seen = 0;
let ticks = 0;
const timer = setInterval(() => {
  const serial = Atomics.load(state, 0);
  if (serial !== seen) { seen = serial; ticks = 0; return; }
  if (serial === 0 || ++ticks * tick < w.deadlineMs) return;
  clearInterval(timer);
  const file = files.get(Atomics.load(state, 1)) ?? 'tokenizer.json';
  writeSync(w.fd, JSON.stringify({ type: 'tokenize-timeout', file, deadlineMs: w.deadlineMs }) + '\\n');
}, tick);
`;

let armed: { state: Int32Array; watcher: Worker; files: Map<string, number> } | null = null;
let serial = 0;

/**
 * Starts the watcher: a tokenization running longer than `deadlineMs` is reported on file
 * descriptor `fd`. REFT_STUDIO_TOKENIZE_DEADLINE_MS overrides the deadline (the tests' short one).
 */
export function armTokenizeWatchdog(fd: number, deadlineMs = TOKENIZE_DEADLINE_MS): void {
  if (armed) return;
  const fromEnv = Number(process.env.REFT_STUDIO_TOKENIZE_DEADLINE_MS);
  const state = new Int32Array(new SharedArrayBuffer(8));
  const watcher = new Worker(WATCHER, {
    eval: true,
    workerData: { state: state.buffer, fd, deadlineMs: fromEnv > 0 ? fromEnv : deadlineMs },
    execArgv: [],
  });
  watcher.unref();
  armed = { state, watcher, files: new Map() };
}

/** Runs `work` (one encode or decode with the tokenizer read from `file`) under the deadline. */
export function underDeadline<T>(file: string, work: () => T): T {
  if (!armed) return work();
  let id = armed.files.get(file);
  if (id === undefined) {
    id = armed.files.size + 1;
    armed.files.set(file, id);
    armed.watcher.postMessage({ id, file });
  }
  serial = serial >= 0x7fffffff ? 1 : serial + 1;
  Atomics.store(armed.state, 1, id);
  Atomics.store(armed.state, 0, serial);
  try {
    return work();
  } finally {
    Atomics.store(armed.state, 0, 0);
  }
}
