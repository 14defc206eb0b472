// `train --out DIR --export-pyreft DIR2` stopped midway (Ctrl-C, SIGTERM) and continued with the
// resume command it printed: the adapter lands in --out and both folders are marked as exports, as
// an uninterrupted run leaves them. The run does not record --out, so the printed command carries
// it; before, `runs resume` wrote only the library's copy (--out never appeared) and left the pyreft
// folder unmarked, so training again into it was refused as "files the studio did not export".

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPreviousExport } from '../../electron/backend/library/export-destination.ts';
import { appRoot } from '../../electron/backend/paths.ts';
import { shellWords } from '../helpers/shell.ts';
import { tempDir } from '../helpers/temp.ts';
import { followEvents, type Json, jsonStream } from './json-stream.ts';
import { longTrainArgs, writeLongRows } from './long-training.ts';

const ROOT = appRoot();
const BIN = join(ROOT, 'bin', 'reft-studio.js');
/** Runs the CLI with --json; `onEvent` may signal it. Resolves with its events, result and exit code. */
async function cli(args: string[], onEvent: (e: Json, kill: (s: NodeJS.Signals) => void) => void = () => {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await followEvents(child, (e) => onEvent(e, (s) => child.kill(s)));
  return { ...r, result: jsonStream(r.stdout, r.stderr).result };
}

test('a paused train --out resumes into --out, with its pyreft export marked', async () => {
  // Folders a shell would split or expand unquoted: the printed command must paste back as they are.
  const dir = join(tempDir('reft-resume-out-'), `my "runs" $HOME é`);
  mkdirSync(dir);
  const rows = join(dir, 'rows.jsonl');
  writeLongRows(rows);
  const data = join(dir, 'data');
  const out = join(dir, 'adapter');
  const pyreft = join(dir, 'pyreft');
  // 10 steps of 20 micro-batches: short enough to resume quickly, long enough to stop at step 2 or so.
  const args = longTrainArgs(rows).map((a) => (a === '200' ? '20' : a === '100' ? '10' : a));
  const trained = await cli(
    [...args, '--out', out, '--export-pyreft', pyreft, '--data-dir', data],
    (e, kill) => {
      if (e.event === 'progress' && e.step === 1) kill('SIGTERM');
    },
  );
  assert.equal(trained.code, 130, trained.stderr);
  assert.equal(trained.result.status, 'paused', trained.stderr);
  assert.ok(!existsSync(out), 'nothing in --out before the run completes');

  // The printed command names --out (and --data-dir); run as a user would paste it into a shell.
  const printed = shellWords(trained.result.resume);
  assert.deepEqual(printed, ['reft-studio', 'runs', 'resume', '1', '--out', out, '--data-dir', data]);
  const resumed = await cli([...printed.slice(1), '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.result.outcome, 'completed', resumed.stderr);
  assert.equal(resumed.result.adapter, out);
  assert.ok(existsSync(join(out, 'adapter.safetensors')), 'the adapter is in --out');
  assert.ok(isPreviousExport(out), '--out is marked as an export');
  assert.ok(isPreviousExport(pyreft), '--export-pyreft is marked as an export');
});
