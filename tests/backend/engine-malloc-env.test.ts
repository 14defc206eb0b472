// The 'infer' engine process starts with glibc malloc's mapping threshold fixed at 128 KiB
// (engine.ts mallocEnv): with glibc's default, which rises as big blocks are freed, a released
// quantized session left its pre-packed weights in the long-lived process's heaps (TinyLlama's shape
// in int8: 1.40 GB anonymous memory kept after every session was released; 0.09 GB with it). Read
// from the real process's /proc/PID/environ (Linux only); a threshold the user set is kept.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WorkerEngine } from '../../electron/backend/jobs/engine.ts';

/** The environment the engine process of the 'infer' lane was started with. */
async function inferEnv(): Promise<Map<string, string>> {
  const engine = new WorkerEngine();
  try {
    const { pid } = await engine.call('processInfo', {});
    const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return new Map(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  } finally {
    await engine.close();
  }
}

test("the 'infer' engine process starts with malloc's mapping threshold fixed; the user's own kept", {
  skip: process.platform === 'linux' ? false : 'glibc malloc settings, read from /proc (Linux only)',
  timeout: 60_000,
}, async () => {
  const own = process.env.MALLOC_MMAP_THRESHOLD_;
  try {
    delete process.env.MALLOC_MMAP_THRESHOLD_;
    assert.equal((await inferEnv()).get('MALLOC_MMAP_THRESHOLD_'), '131072');
    process.env.MALLOC_MMAP_THRESHOLD_ = '65536';
    assert.equal((await inferEnv()).get('MALLOC_MMAP_THRESHOLD_'), '65536');
  } finally {
    if (own === undefined) delete process.env.MALLOC_MMAP_THRESHOLD_;
    else process.env.MALLOC_MMAP_THRESHOLD_ = own;
  }
});
