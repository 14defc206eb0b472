// Environment variables a test sets for itself, put back as they were when the test ends.

import type { TestContext } from 'node:test';

// The value each variable had before a test first changed it. node:test runs a test's `after`
// hooks first-registered-first, so one hook per variable, restoring this value, is what keeps a
// second change in the same test from being "restored" over the first.
const savedBefore = new WeakMap<TestContext, Map<string, string | undefined>>();

/** Sets (or, with undefined, removes) `name` for the rest of test `t`. */
export function setEnvFor(t: TestContext, name: string, value: string | undefined): void {
  let saved = savedBefore.get(t);
  if (!saved) {
    saved = new Map();
    savedBefore.set(t, saved);
  }
  if (!saved.has(name)) {
    const before = process.env[name];
    saved.set(name, before);
    t.after(() => {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    });
  }
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
