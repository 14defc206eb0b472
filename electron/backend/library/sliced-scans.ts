// Long scans over a version's rows written as generators that yield where they may pause, run either
// through at once (the CLI, tests) or in time slices with a turn of the event loop between them, so
// that a loop with other work (the studio's RPC loop, the 'files' engine process taking a cancel)
// answers meanwhile: a million rows scanned in one go held every window for one to three seconds.
// KeptScans keeps scans' results by key for the most recently used few (a frozen file never changes,
// so neither do its search matches or row index), concurrent calls for one key sharing one scan: a
// call that cannot wait (get) finishes the scan running in slices rather than starting another.
// Their keys start with the file scanned (the path, or the path, \0 and more): forgetKeptScans drops
// a deleted file's results from every KeptScans at once.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { runThrough } from '../../../native-runtime/scans.ts';

// runThrough lives with the scans of native-runtime (a CSV file's rows: data-files.ts rawRowsScan).
export { runThrough };

/** How long a scan on the RPC loop runs before it lets other requests be answered. */
const SLICE_MS = 10;

/**
 * Runs a scan in slices of about `sliceMs`, the event loop turning between them; `beforeStep` runs
 * before each step (to stop the scan by throwing: the scan then ends with that error where it
 * paused, so that its own cleanup runs, files it was writing dropped and files it read closed).
 */
export async function runInSlices<T>(
  scan: Iterator<void, T>,
  sliceMs = SLICE_MS,
  beforeStep?: () => void,
): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    try {
      beforeStep?.();
    } catch (stop) {
      scan.throw?.(stop);
      throw stop;
    }
    const step = scan.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

/**
 * A scan that two runners may drive in turn (one in slices, then one through to the end): once it
 * has ended, every further step ends it again the same way, with its result or its error.
 */
class SharedScan<T> implements Iterator<void, T> {
  #end: { step: IteratorReturnResult<T> } | { error: unknown } | null = null;

  constructor(readonly scan: Generator<void, T>) {}

  next(): IteratorResult<void, T> {
    if (this.#end) {
      if ('step' in this.#end) return this.#end.step;
      throw this.#end.error;
    }
    try {
      const step = this.scan.next();
      if (step.done) this.#end = { step };
      return step;
    } catch (error) {
      this.#end = { error };
      throw error;
    }
  }
}

/** Every KeptScans made, for forgetKeptScans. */
const allKept = new Set<KeptScans<unknown>>();

/** Drops every kept result of scans of `file` (a frozen file being deleted). */
export function forgetKeptScans(file: string): void {
  for (const kept of allKept) kept.forget(file);
}

export class KeptScans<T> {
  readonly #done = new Map<string, T>();
  readonly #running = new Map<string, { scan: SharedScan<T>; result: Promise<T> }>();

  constructor(readonly kept: number) {
    allKept.add(this as KeptScans<unknown>);
  }

  /** Drops the kept results whose key is `file` or starts with `file` and \0. */
  forget(file: string): void {
    for (const key of [...this.#done.keys()])
      if (key === file || key.startsWith(`${file}\0`)) this.#done.delete(key);
  }

  /** The result for `key`, scanned now unless kept (being scanned in slices: that scan finished now). */
  get(key: string, scan: () => Generator<void, T>): T {
    const hit = this.#done.get(key);
    if (hit !== undefined) return this.#keep(key, hit);
    const running = this.#running.get(key);
    return this.#keep(key, runThrough(running ? running.scan : scan()));
  }

  /** The result for `key`, scanned in time slices unless kept (or being scanned: then shared). */
  getInSlices(key: string, scan: () => Generator<void, T>): Promise<T> {
    const hit = this.#done.get(key);
    if (hit !== undefined) return Promise.resolve(this.#keep(key, hit));
    let running = this.#running.get(key);
    if (!running) {
      const shared = new SharedScan(scan());
      const result = runInSlices(shared)
        .then((value) => this.#keep(key, value))
        .finally(() => this.#running.delete(key));
      running = { scan: shared, result };
      this.#running.set(key, running);
    }
    return running.result;
  }

  /** Keeps a result as the most recently used, dropping the least recently used past `kept`. */
  #keep(key: string, value: T): T {
    this.#done.delete(key);
    this.#done.set(key, value);
    while (this.#done.size > this.kept) this.#done.delete(this.#done.keys().next().value as string);
    return value;
  }
}
