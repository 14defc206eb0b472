// The engine processes holding sessions ('infer', 'train') start with glibc malloc's mapping
// threshold fixed at 128 KiB (engine.ts mallocEnv): with glibc's default, which rises as big blocks
// are freed, a released quantized session left its pre-packed weights in the long-lived process's
// heaps (TinyLlama's shape in int8: 1.40 GB anonymous memory kept after a Playground session and an
// evaluation were released, 2.27 GB after a training run; 0.09 GB with it). Read from the real
// processes' /proc/PID/environ (Linux only); a threshold the user set is kept.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WorkerEngine } from '../../electron/backend/jobs/engine.ts';

/** MALLOC_MMAP_THRESHOLD_ as each lane's engine process was started with it. */
async function thresholds(): Promise<Record<string, string | undefined>> {
  const engine = new WorkerEngine();
  try {
    await engine.call('processInfo', {}); // the 'infer' lane
    // The 'train' lane: a run refused at once starts its process all the same.
    await engine
      .call('train', { config: { model: '/nonexistent', data: '/nonexistent', out: '/nonexistent' } })
      .catch(() => {});
    await engine
      .call('tokenLengths', { model: '/nonexistent', data: '/nonexistent' } as never)
      .catch(() => {});
    return Object.fromEntries(
      engine.processes().map(({ lane, pid }) => {
        const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        const v = vars.find((x) => x.startsWith('MALLOC_MMAP_THRESHOLD_='));
        return [lane, v?.slice(v.indexOf('=') + 1)];
      }),
    );
  } finally {
    await engine.close();
  }
}

test("the engine processes holding sessions start with malloc's mapping threshold fixed; the user's kept", {
  skip: process.platform === 'linux' ? false : 'glibc malloc settings, read from /proc (Linux only)',
  timeout: 60_000,
}, async () => {
  const own = process.env.MALLOC_MMAP_THRESHOLD_;
  try {
    delete process.env.MALLOC_MMAP_THRESHOLD_;
    // The token counts' lane holds no session: left as glibc has it.
    assert.deepEqual(await thresholds(), { infer: '131072', train: '131072', counts: undefined });
    process.env.MALLOC_MMAP_THRESHOLD_ = '65536';
    assert.deepEqual(await thresholds(), { infer: '65536', train: '65536', counts: '65536' });
  } finally {
    if (own === undefined) delete process.env.MALLOC_MMAP_THRESHOLD_;
    else process.env.MALLOC_MMAP_THRESHOLD_ = own;
  }
});
