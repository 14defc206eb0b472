// exitWithParent: a child whose main thread is stuck in one synchronous call (as in a long ONNX
// Runtime run) still ends once its parent is killed. Real processes: a parent (sh) starts the child
// and is SIGKILLed; the child's main thread blocks for good, so only the watcher thread can end it.
// stopWithParent: the child's own signal handler runs first; one that never finishes is killed once
// the grace period is over.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../tests/helpers/temp.ts';
import { processAlive } from './process-alive.ts';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const watch = new URL('./parent-watch.ts', import.meta.url).href;
// Blocks the main thread forever once the watcher is set up (Atomics.wait never wakes).
const CHILD = `import { exitWithParent } from ${JSON.stringify(watch)};
exitWithParent();
console.log(process.pid);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);`;

// Its SIGINT handler leaves a mark, then blocks for good: only the grace period's SIGKILL ends it.
const GENTLE_CHILD = `import { writeFileSync } from 'node:fs';
import { stopWithParent } from ${JSON.stringify(watch)};
stopWithParent(process.ppid, { signal: 'SIGINT', graceMs: 1000 });
process.on('SIGINT', () => {
  writeFileSync(process.env.MARK, 'stopping');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});
console.log(process.pid);
setInterval(() => {}, 1000);`;

/** Starts `code` under sh (its parent); resolves with sh and the child's pid once it runs. */
async function underShell(code: string, env: NodeJS.ProcessEnv = {}) {
  const parent = spawn(
    'sh',
    ['-c', `"${process.execPath}" --import "${tsx}" --input-type=module -e "$CHILD"; sleep 600`],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, CHILD: code } },
  );
  const child = Number(
    await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d)))),
  );
  return { parent, child };
}

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a child blocked in a synchronous call ends when its parent is killed', async () => {
  // sh is the parent: it starts node and waits; killing it orphans node.
  const { parent, child } = await underShell(CHILD);
  try {
    assert.ok(child > 0);
    assert.ok(processAlive(child), 'the child runs while its parent does');
    parent.kill('SIGKILL');
    await until('the orphaned child to end', () => !processAlive(child));
  } finally {
    parent.kill('SIGKILL');
    if (child && processAlive(child)) process.kill(child, 'SIGKILL');
  }
});

test('stopWithParent: the signal comes first, then SIGKILL once the grace period is over', async () => {
  const mark = join(tempDir('reft-parent-watch-'), 'mark');
  const { parent, child } = await underShell(GENTLE_CHILD, { MARK: mark });
  try {
    assert.ok(child > 0);
    assert.ok(processAlive(child), 'the child runs while its parent does');
    assert.ok(!existsSync(mark));
    parent.kill('SIGKILL');
    await until('the orphaned child to end', () => !processAlive(child));
    assert.ok(existsSync(mark), 'its SIGINT handler ran before it was killed');
  } finally {
    parent.kill('SIGKILL');
    if (child && processAlive(child)) process.kill(child, 'SIGKILL');
  }
});
