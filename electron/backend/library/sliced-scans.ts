// Long scans over a version's rows written as generators that yield where they may pause, run either
// through at once (the CLI, tests) or in time slices with a turn of the event loop between them, so
// that a loop with other work (the studio's RPC loop, the 'files' engine process taking a cancel)
// answers meanwhile: a million rows scanned in one go held every window for one to three seconds.
// KeptScans keeps scans' results by key for the most recently used few (a frozen file never changes,
// so neither do its search matches or row index), concurrent calls for one key sharing one scan.

import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long a scan on the RPC loop runs before it lets other requests be answered. */
const SLICE_MS = 10;

/** Runs a scan to its end. */
export function runThrough<T>(scan: Generator<void, T>): T {
  for (;;) {
    const step = scan.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs a scan in slices of about `sliceMs`, the event loop turning between them; `beforeStep` runs
 * before each step (to stop the scan by throwing).
 */
export async function runInSlices<T>(
  scan: Generator<void, T>,
  sliceMs = SLICE_MS,
  beforeStep?: () => void,
): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    beforeStep?.();
    const step = scan.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

export class KeptScans<T> {
  readonly #done = new Map<string, T>();
  readonly #running = new Map<string, Promise<T>>();

  constructor(readonly kept: number) {}

  /** The result for `key`, scanned now unless kept. */
  get(key: string, scan: () => Generator<void, T>): T {
    const hit = this.#done.get(key);
    return this.#keep(key, hit !== undefined ? hit : runThrough(scan()));
  }

  /** The result for `key`, scanned in time slices unless kept (or being scanned: then shared). */
  getInSlices(key: string, scan: () => Generator<void, T>): Promise<T> {
    const hit = this.#done.get(key);
    if (hit !== undefined) return Promise.resolve(this.#keep(key, hit));
    let running = this.#running.get(key);
    if (!running) {
      running = runInSlices(scan())
        .then((value) => this.#keep(key, value))
        .finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    return running;
  }

  /** Keeps a result as the most recently used, dropping the least recently used past `kept`. */
  #keep(key: string, value: T): T {
    this.#done.delete(key);
    this.#done.set(key, value);
    while (this.#done.size > this.kept) this.#done.delete(this.#done.keys().next().value as string);
    return value;
  }
}
