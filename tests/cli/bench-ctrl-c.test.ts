// Ctrl-C (or SIGTERM) in the middle of `reft-studio bench … --synthetic`: the synthetic model's
// scratch folder (4.1 GB at 1.1B in float32) went only at the next start's sweep, since Node's
// default ended the process without its 'exit' handlers. Now the bench exits 130 at once and the
// folder is gone. A real CLI process, stopped once the folder is being written (polled, no timing
// asserted); int4 writes the smallest checkpoint (its matrices as holes).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, type CliResult, ROOT, tempDir } from '../backend/helpers.ts';

/** The files in the data folder's scratch folders (`tmp/<what>-<pid>-<tag>/`). */
function scratchFiles(dataDir: string): string[] {
  try {
    return readdirSync(join(dataDir, 'tmp')).flatMap((d) => readdirSync(join(dataDir, 'tmp', d)));
  } catch {
    return []; // no tmp/ yet
  }
}

function benchStopped(signal: NodeJS.Signals, dataDir: string): Promise<CliResult> {
  const args = ['bench', 'prefill', '--synthetic', 'tinyllama-1.1b', '--quantize', 'int4'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--data-dir', dataDir], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let done = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      done = true;
      resolve({ code, stdout, stderr });
    });
    (async () => {
      while (!done && scratchFiles(dataDir).length === 0) await sleep(20);
      if (done) reject(new Error(`the bench ended before its model was written: ${stdout}${stderr}`));
      else child.kill(signal);
    })();
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} while a synthetic model is written: exit 130, its folder gone`, {
    timeout: 120_000,
  }, async () => {
    const dataDir = join(tempDir('bench-ctrl-c'), 'data');
    const r = await benchStopped(signal, dataDir);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /stopping the bench\n$/);
    assert.deepEqual(readdirSync(join(dataDir, 'tmp')), [], 'the synthetic model is deleted');
  });
}
