// A reader that goes away (`reft-studio generate … | head -c 10`, `runs list | head -1`) closes the
// CLI's stdout: the next write fails with EPIPE. That counts as a Ctrl-C at that moment. Where no
// command code takes Ctrl-C over, Node's default would end the process at once, and so does a
// closed output, quietly — it used to print "stopping as for Ctrl-C" and go on to the end (a
// generation ran to its last token with nobody reading). A training, which takes Ctrl-C over,
// pauses instead: tests/cli/progress.test.ts ("a reader that goes away").

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, ROOT, tempDir } from '../backend/helpers.ts';

const DEMO = join(ROOT, 'resources', 'demo', 'model');

/** Runs the CLI with stdout a pipe that is closed after `after` bytes were read (0: at once). */
async function withReaderGone(args: string[], after: number) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  if (after === 0) child.stdout.destroy();
  else {
    let read = 0;
    child.stdout.on('data', (d: Buffer) => {
      read += d.length;
      if (read >= after) child.stdout.destroy();
    });
  }
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  return { code, stderr };
}

test('generate | head -c 10: the generation stops there, quietly, exit 130', async () => {
  const dir = tempDir('closed-output-generate');
  const r = await withReaderGone(
    // More tokens than the demo model's context holds: a generation that runs to its end says
    // "stopped after 251 new tokens: the model's context holds 256 tokens".
    ['generate', '--model', DEMO, '--prompt', 'hello', '--max-new-tokens', '1000', '--data-dir', dir],
    10,
  );
  assert.doesNotMatch(r.stderr, /stopped after|\n\s+at /, 'it went on after its reader was gone');
  assert.doesNotMatch(r.stderr, /output was closed|error/);
  assert.equal(r.code, 130, r.stderr);
});

test('runs list with its reader gone: no note, no stack, exit 130', async () => {
  const r = await withReaderGone(['runs', 'list', '--data-dir', tempDir('closed-output-list')], 0);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 130);
});

test('train -q with its reader gone: a training already done finishes quietly, --out written, exit 0', async () => {
  // With -q, nothing is written to stdout until the summary, after the training has ended and its
  // Ctrl-C handling is released (kept 2 s only so that a Ctrl-C cannot cut the summary off). Bug: the
  // closed output then said "stopping as for Ctrl-C", and nothing stopped.
  const dir = tempDir('closed-output-train');
  const out = join(dir, 'adapter-out');
  const r = await withReaderGone(
    [
      'train',
      '--model',
      DEMO,
      '--data',
      join(ROOT, 'resources', 'demo', 'persona.jsonl'),
      '--max-steps',
      '1',
      '-q',
    ].concat(['--out', out, '--data-dir', join(dir, 'data')]),
    0,
  );
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.ok(existsSync(join(out, 'adapter.safetensors')), '--out was written');
});
