// Environment variables a test sets for itself, put back as they were when the test ends.

import type { TestContext } from 'node:test';

/** Sets (or, with undefined, removes) `name` for the rest of test `t`. */
export function setEnvFor(t: TestContext, name: string, value: string | undefined): void {
  const saved = process.env[name];
  t.after(() => {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  });
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
