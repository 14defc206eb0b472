// A stand-in nvidia-smi: a shell script answering with `body` (a `case "$1" in …` on the query), for
// the GPU detection on machines without an NVIDIA driver.

import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes the script into `dir` and returns its path. */
export function fakeSmi(dir: string, body: string): string {
  const p = join(dir, `smi-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}
