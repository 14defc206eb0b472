// A model's tokenizer.json pattern that backtracks without end ((?:a|a)*$ passes the load-time
// check, pattern-check.ts) held a CLI command inside one encode for hours, silent, and deaf to
// Ctrl-C while `train` had its handler installed. The CLI now arms the same watchdog as the engine
// processes (tokenize-watchdog.ts): past the deadline it prints the command's error, naming the
// tokenizer.json, and the process is killed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { modelSplittingOn } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = appRoot();
const BIN = join(ROOT, 'bin', 'reft-studio.js');
const dir = tempDir('reft-tokenize-deadline-');
// (?:a|a)*$ tries 2^40 ways on this text: hours.
const model = modelSplittingOn(dir, 'backtracking', '(?:a|a)*$');
const HOSTILE = `${'a'.repeat(40)}!`;
/** Long enough for a loaded machine to tokenize ordinary text, short for the test. */
const DEADLINE_MS = 2000;
/** Past this the command is taken to hang (it did, for hours), and the test kills it. */
const HANG_MS = 60_000;

const tooSlow =
  `error: ${join(model, 'tokenizer.json')}: tokenizing one text took over 2 s, so the command was ` +
  'stopped: a pattern in this tokenizer backtracks without end on some texts';

function cli(...args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, REFT_STUDIO_TOKENIZE_DEADLINE_MS: String(DEADLINE_MS) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const hang = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
  const started = Date.now();
  return new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    ms: number;
  }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(hang);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

test('tokenize: a text the pattern backtracks on ends at the deadline with one line naming the tokenizer.json', async () => {
  const r = await cli('tokenize', '--model', model, '--text', HOSTILE);
  assert.ok(r.ms < HANG_MS, `still tokenizing after ${r.ms} ms`);
  assert.equal(r.stderr, `${tooSlow}\n`);
  assert.equal(r.stdout, '');
  // Only a kill ends a thread stuck in a RegExp: exit status 137 as a shell reports it.
  assert.equal(r.signal, 'SIGKILL');
});

test('train --json: the error event ends the output, and the run left behind reads as interrupted', async () => {
  const data = join(dir, 'library');
  const rows = join(dir, 'rows.jsonl');
  writeFileSync(
    rows,
    `${JSON.stringify({ prompt: HOSTILE, completion: 'b' })}\n${JSON.stringify({ prompt: 'hi', completion: 'there' })}\n`,
  );
  const r = await cli(
    'train',
    '--model',
    model,
    '--data',
    rows,
    '--max-steps',
    '1',
    '--json',
    '--data-dir',
    data,
  );
  assert.ok(r.ms < HANG_MS, `still training after ${r.ms} ms`);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.stderr.trim().split('\n').at(-1), tooSlow);
  // One object on stdout, as for any failure with --json.
  const last = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(last), ['error'], r.stdout);
  assert.equal(last.error.code, 'tokenizer-too-slow');
  assert.equal(`error: ${last.error.message}`, tooSlow);
  // The run was recorded before its rows were tokenized; the next command that opens the library
  // finds it 'running' with no process and marks it interrupted.
  const list = await cli('runs', 'list', '--json', '--data-dir', data);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).runs.map((run: { status: string }) => run.status),
    ['interrupted'],
  );
});
