// Ctrl-C (or SIGTERM) in the middle of `reft-studio export --format bundle`. The write is
// synchronous, and it once ran on the main thread, deaf to signals: Node's default ended the process
// there, silently, and left the half-written `.OUT.TAG.tmp` (replacing an export, `.OUT.TAG.old`)
// beside the folder for ten minutes. Now it stops: exit 130, one line saying what the folder holds,
// nothing of its own left beside it, a previous export as it was — and another writer's leftover
// untouched. A real CLI process with a dataset big enough that its temp folder is seen mid-write
// (polled, no timing asserted). A pyreft folder, small, is finished rather than stopped.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXPORT_MARKER } from '../../electron/backend/library/export-destination.ts';
import {
  BIN,
  type CliResult,
  cliKilledAtRename,
  LLAMA_FIXTURE,
  ROOT,
  runCli,
  tempDir,
  writeJsonl,
} from '../backend/helpers.ts';
import { REFT } from '../helpers/fixtures.ts';

const root = tempDir('export-ctrl-c');
const dataDir = join(root, 'data');
const config = join(root, 'config.json');

/** `n` rows written a megabyte at a time (the big dataset whose bundle takes seconds). */
function writeBigJsonl(path: string, n: number): void {
  const fd = openSync(path, 'w');
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += `${JSON.stringify({ prompt: `Question ${i}: ${'words '.repeat(30)}`, completion: `Answer ${i}.` })}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

/** The entries beside `out` that belong to writes of it (`.NAME.TAG.tmp` / `.old`). */
function leftovers(out: string): string[] {
  const name = out.slice(root.length + 1);
  return readdirSync(root).filter((e) => e.startsWith(`.${name}.`));
}

/** Every file of folder `dir` with its bytes. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Runs `export` to `out` and sends `signal` once its own temp folder is there (none in `spare`). */
function exportStopped(
  args: string[],
  out: string,
  signal: NodeJS.Signals,
  spare: string[],
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'export', ...args, '--out', out, '--data-dir', dataDir], {
      cwd: ROOT,
    });
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
      while (!done && !leftovers(out).some((e) => e.endsWith('.tmp') && !spare.includes(e))) await sleep(5);
      if (done) reject(new Error(`the export ended before its temp folder was seen: ${stdout}${stderr}`));
      else child.kill(signal);
    })();
  });
}

test('Ctrl-C or SIGTERM mid-export: exit 130, one line, the folder as it was', {
  timeout: 180_000,
}, async () => {
  writeFileSync(config, JSON.stringify({ model: LLAMA_FIXTURE }));
  const big = join(root, 'big.jsonl');
  writeBigJsonl(big, 250_000);
  const bundle = ['--format', 'bundle', '--config', config, '--data', big];

  // Another process's write in progress beside the same folder: a stopped export leaves it alone.
  const fresh = join(root, 'fresh');
  const others = '.fresh.0123456789ab.tmp';
  mkdirSync(join(root, others));
  const first = await exportStopped(bundle, fresh, 'SIGINT', [others]);
  assert.equal(first.code, 130, first.stderr);
  assert.equal(first.stdout, `export stopped; nothing was written to ${fresh}\n`);
  assert.equal(first.stderr, '');
  assert.deepEqual(leftovers(fresh), [others], 'its own temp folder is gone, the other one kept');
  assert.ok(!readdirSync(root).includes('fresh'), 'no folder was written');

  // Replacing a previous export: it is moved aside only at the end, and stays as it was.
  const small = join(root, 'small.jsonl');
  writeJsonl(small, 3);
  const kept = join(root, 'kept');
  const prev = await runCli([
    'export',
    '--format',
    'bundle',
    '--config',
    config,
    '--data',
    small,
    '--out',
    kept,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(prev.code, 0, prev.stderr);
  const before = snapshot(kept);
  const second = await exportStopped([...bundle, '--force'], kept, 'SIGTERM', []);
  assert.equal(second.code, 130, second.stderr);
  assert.equal(second.stdout, `export stopped; the previous export in ${kept} is kept unchanged\n`);
  assert.deepEqual(leftovers(kept), []);
  assert.deepEqual(snapshot(kept), before);
});

test('Ctrl-C during a pyreft export lets its short write finish', { timeout: 60_000 }, async () => {
  // The Ctrl-C lands as the folder is renamed into place: it used to end the process there, the
  // complete new folder left as `.OUT.TAG.tmp` and nothing at --out.
  const out = join(root, 'pyreft');
  const adapter = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
  const args = ['export', '--adapter', adapter, '--out', out, '--data-dir', dataDir];
  const r = await cliKilledAtRename('before', out, args, 'SIGINT');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote pyreft folder /);
  assert.deepEqual(leftovers(out), []);
  assert.ok(readdirSync(out).includes(EXPORT_MARKER));
});
