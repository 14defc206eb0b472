// The signals that end a CLI command from outside: SIGTERM (`kill`, a service manager, a container
// stopping) and SIGHUP (its terminal closed) stop a training the way one Ctrl-C does — at the end of
// the step, with a checkpoint, resumable — where they used to kill it mid-step with nothing saved.
// Two hangups (one direct, one forwarded by the CUDA pack's launcher) still mean one clean stop.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';
import { tempDir } from '../helpers/temp.ts';
import { followEvents, type Json, jsonStream } from './json-stream.ts';
import { longTrainArgs, writeLongRows } from './long-training.ts';

const ROOT = appRoot();
const BIN = join(ROOT, 'bin', 'reft-studio.js');
const dir = tempDir('reft-stop-signals-');
const rows = join(dir, 'rows.jsonl');

before(() => writeLongRows(rows));

/** Trains with --json; `signals` are sent to the CLI once step 1 is done (step 2 is then in flight). */
async function trainUntil(signals: NodeJS.Signals[], data: string) {
  const cli = spawn(process.execPath, [BIN, ...longTrainArgs(rows), '--data-dir', data], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await followEvents(cli, (e) => {
    if (e.event === 'progress' && e.step === 1) for (const s of signals) cli.kill(s);
  });
  return { ...r, result: jsonStream(r.stdout, r.stderr).result };
}

function assertPaused(r: { result: Json; stderr: string; code: number | null }) {
  const { result } = r;
  assert.equal(result.status, 'paused', r.stderr);
  assert.equal(result.checkpoint.step, result.step);
  assert.ok(result.step < 100, 'it stopped well before the last step');
  assert.equal(r.code, 130, 'the exit status of an interrupted command');
}

test('SIGTERM: a training pauses at the end of its step with a checkpoint', async () => {
  assertPaused(await trainUntil(['SIGTERM'], join(dir, 'term')));
});

test('SIGHUP, twice: one clean stop, not "stop now"', async () => {
  const r = await trainUntil(['SIGHUP', 'SIGHUP'], join(dir, 'hup'));
  assertPaused(r);
  assert.doesNotMatch(r.stderr, /stopping now/);
});
