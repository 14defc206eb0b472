// A deadline on every tokenization in an engine process and in the CLI. A tokenizer.json's patterns
// run as JavaScript RegExps, and a hostile one can backtrack for hours inside one synchronous
// encode: no cancel, timer or IPC message is heard until it returns (pattern-check.ts refuses the
// plain cases at load, not all). A small worker thread watches instead, as parent-watch.ts does for the host:
// the main thread marks each encode or decode in shared memory (two Atomics stores, nothing next to
// the tokenizer's own work), and one that runs past the deadline is reported on a pipe to the host,
// which kills the process and fails its calls with that line (jobs/engine.ts). The CLI, which
// tokenizes on its only thread, arms it too (cli/main.ts): there the watcher writes the command's
// error line itself and ends the process with SIGKILL — the one way a thread can end a process
// whose main thread is stuck, as a Ctrl-C is not heard either (its JavaScript handler never runs).
// The studio's own loop never tokenizes and arms nothing.

import { Worker } from 'node:worker_threads';
import { ReftError } from '../errors.ts';

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

/** One write the watcher makes when a tokenization runs past its deadline. */
export interface ReportWrite {
  fd: number;
  text: string;
}

/** What the watcher writes for a tokenization of `file` past `deadlineMs`. */
export type Report = (file: string, deadlineMs: number) => ReportWrite[];

/** The error of a tokenization past its deadline, naming the tokenizer.json; `stopped`: what ended. */
export function tokenizeTimeoutError(file: string, deadlineMs: number, stopped: string): ReftError {
  return new ReftError(
    'tokenizer-too-slow',
    `${file}: tokenizing one text took over ${Math.round(deadlineMs / 1000)} s, so ${stopped}: ` +
      'a pattern in this tokenizer backtracks without end on some texts',
  );
}

// Plain JavaScript, evaluated in the worker: no TypeScript loader, the same in a bundled app.
// state[0]: the running tokenization's serial (0: none); state[1]: its tokenizer's number.
// The deadline is counted in the watcher's ticks, not by the clock: a computer that sleeps in the
// middle of an encode resumes with one overdue tick, not with 'hours late'.
const WATCHER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(w.state);
const reports = new Map();
parentPort.on('message', (m) => reports.set(m.id, m.writes));
const tick = Math.min(250, w.deadlineMs / 4);
let seen = 0;
let ticks = 0;
const timer = setInterval(() => {
  const serial = Atomics.load(state, 0);
  if (serial !== seen) { seen = serial; ticks = 0; return; }
  if (serial === 0 || ++ticks * tick < w.deadlineMs) return;
  clearInterval(timer);
  for (const { fd, text } of reports.get(Atomics.load(state, 1)) ?? w.unknown) {
    try { writeSync(fd, text); } catch {}
  }
  if (w.kill) process.kill(process.pid, 'SIGKILL');
}, tick);
`;

interface Watch {
  report: Report;
  /** End the process after the report (the CLI) rather than leave that to the host (an engine). */
  kill: boolean;
  deadlineMs: number;
}

interface Armed {
  state: Int32Array;
  watcher: Worker;
  files: Map<string, number>;
  watch: Watch;
}

let armed: Armed | null = null;
/** Armed by the CLI: the watcher starts with the first tokenization, so other commands pay nothing. */
let wanted: Watch | null = null;
let serial = 0;

/** REFT_STUDIO_TOKENIZE_DEADLINE_MS overrides the deadline (the tests' short one). */
function deadline(deadlineMs: number): number {
  const fromEnv = Number(process.env.REFT_STUDIO_TOKENIZE_DEADLINE_MS);
  return fromEnv > 0 ? fromEnv : deadlineMs;
}

function start(watch: Watch): Armed {
  const state = new Int32Array(new SharedArrayBuffer(8));
  // execArgv []: the worker needs none of the process's loader flags (tsx's --import).
  const watcher = new Worker(WATCHER, {
    eval: true,
    workerData: {
      state: state.buffer,
      deadlineMs: watch.deadlineMs,
      kill: watch.kill,
      // Should the first encode hang before the watcher has read which file it is.
      unknown: watch.report('tokenizer.json', watch.deadlineMs),
    },
    execArgv: [],
  });
  watcher.unref();
  armed = { state, watcher, files: new Map(), watch };
  return armed;
}

/**
 * Starts the watcher of an engine process: a tokenization running longer than `deadlineMs` is
 * reported on file descriptor `fd` (a TokenizeTimeout line), and the host kills the process.
 */
export function armTokenizeWatchdog(fd: number, deadlineMs = TOKENIZE_DEADLINE_MS): void {
  if (armed) return;
  const report: Report = (file, ms) => [
    {
      fd,
      text: `${JSON.stringify({ type: 'tokenize-timeout', file, deadlineMs: ms } satisfies TokenizeTimeout)}\n`,
    },
  ];
  start({ report, kill: false, deadlineMs: deadline(deadlineMs) });
}

/**
 * The CLI's deadline: a tokenization running longer than `deadlineMs` writes `report`'s lines (the
 * command's error) and ends this process with SIGKILL. The watcher starts at the first tokenization.
 */
export function exitOnTokenizeDeadline(report: Report, deadlineMs = TOKENIZE_DEADLINE_MS): void {
  if (!armed) wanted = { report, kill: true, deadlineMs: deadline(deadlineMs) };
}

/** Runs `work` (one encode or decode with the tokenizer read from `file`) under the deadline. */
export function underDeadline<T>(file: string, work: () => T): T {
  const a = armed ?? (wanted && start(wanted));
  if (!a) return work();
  let id = a.files.get(file);
  if (id === undefined) {
    id = a.files.size + 1;
    a.files.set(file, id);
    a.watcher.postMessage({ id, writes: a.watch.report(file, a.watch.deadlineMs) });
  }
  serial = serial >= 0x7fffffff ? 1 : serial + 1;
  Atomics.store(a.state, 1, id);
  Atomics.store(a.state, 0, serial);
  try {
    return work();
  } finally {
    Atomics.store(a.state, 0, 0);
  }
}
