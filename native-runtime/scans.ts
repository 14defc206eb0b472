// Long work written as a generator that yields where it may pause (reading a big CSV, scanning a
// dataset's rows), so that one implementation serves both kinds of caller: the CLI, the trainer and
// tests run it through at once (runThrough, here), the studio's loops in time slices with a turn of
// the event loop between them (electron/backend/library/sliced-scans.ts runInSlices), so that they
// answer other requests, and cancels, meanwhile.

/** Runs a scan to its end. */
export function runThrough<T>(scan: Iterator<void, T>): T {
  for (;;) {
    const step = scan.next();
    if (step.done) return step.value;
  }
}
