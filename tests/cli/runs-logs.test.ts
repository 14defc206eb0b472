// `reft-studio runs logs ID [--tail N] [--follow]`: a run's log (library/run-logs.ts, what the Runs
// page's Log tab shows) from the command line. --follow prints lines as another process writes
// them, a line being written only once it is whole, until the run stops; --json is one object.

import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appendRunLog, runFolder } from '../../electron/backend/library/run-logs.ts';
import {
  cancelRun,
  createRun,
  recordCheckpoint,
  releaseRun,
  setRunStatus,
} from '../../electron/backend/library/runs.ts';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const dataDir = join(tempDir('reft-runs-logs-'), 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
// The writer: what the studio (or a CLI training) does to the run while `runs logs` reads it.
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

const texts = (out: string): string[] => (JSON.parse(out).lines as { text: string }[]).map((l) => l.text);

test('runs logs: the whole log, --tail N, --json; an unknown run and a bad --tail are refused', async () => {
  const { id } = createRun(lib, { name: 'done' });
  for (const t of ['queued: 3 steps', 'step 1', 'step 2', 'completed']) appendRunLog(lib, id, 'studio', t);

  const all = await cli('runs', 'logs', String(id));
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}studio {3}queued: 3 steps\n/);
  assert.equal(all.out.trim().split('\n').length, 4);

  const two = await cli('runs', 'logs', String(id), '--tail', '2', '--json');
  assert.equal(two.code, 0, two.err);
  assert.deepEqual(texts(two.out), ['step 2', 'completed']);
  assert.equal(JSON.parse(two.out).runId, id);

  const { id: quiet } = createRun(lib, { name: 'no lines' });
  assert.equal((await cli('runs', 'logs', String(quiet))).out, `run ${quiet} has no log lines yet\n`);

  const unknown = await cli('runs', 'logs', '999');
  assert.deepEqual([unknown.code, unknown.err], [1, 'error: no run with id 999\n']);
  const bad = await cli('runs', 'logs', String(id), '--tail', '0');
  assert.deepEqual([bad.code, bad.err], [2, 'error: --tail must be an integer ≥ 1 (got "0")\n']);
});

test('runs logs --follow: new lines until the run stops, a line being written only once whole', async () => {
  const { id } = createRun(lib, { name: 'live' });
  setRunStatus(lib, id, 'running');
  appendRunLog(lib, id, 'studio', 'resumed from step 0');
  // Half a line, as a writer in the middle of its append leaves it.
  const half = JSON.stringify({ at: Date.now(), source: 'trainer', text: 'step 1: loss 2.5' });
  appendFileSync(join(runFolder(lib, id), 'log.jsonl'), half.slice(0, 20));

  const following = cli('runs', 'logs', String(id), '--follow', '--json');
  await sleep(700);
  appendFileSync(join(runFolder(lib, id), 'log.jsonl'), `${half.slice(20)}\n`);
  await sleep(700);
  appendRunLog(lib, id, 'trainer', 'step 2: loss 2.1');
  setRunStatus(lib, id, 'completed');
  // The studio's last line comes just after the status; then its process lets go of the run.
  appendRunLog(lib, id, 'studio', 'completed; its adapter is #1 in the library');
  releaseRun(lib, id);
  const r = await following;
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim().split('\n').length, 1, 'one JSON object');
  assert.deepEqual(texts(r.out), [
    'resumed from step 0',
    'step 1: loss 2.5',
    'step 2: loss 2.1',
    'completed; its adapter is #1 in the library',
  ]);

  // A run that has stopped already: its last lines, then the command ends.
  const ended = await cli('runs', 'logs', String(id), '--follow', '--tail', '1');
  assert.equal(ended.code, 0, ended.err);
  assert.match(ended.out, /^\S+ \S+ {2}studio {3}completed; its adapter is #1 in the library\n$/);
});

test('runs logs --follow: a run cancelled from elsewhere is followed until its process lets go', async () => {
  // Trained by this process (it owns the run), cancelled as `runs cancel` does from another.
  const { id } = createRun(lib, { name: 'cancelled elsewhere' });
  setRunStatus(lib, id, 'running');
  appendRunLog(lib, id, 'trainer', 'step 1: loss 2.5');
  const following = cli('runs', 'logs', String(id), '--follow', '--json');
  await sleep(700);
  cancelRun(lib, id);
  // The run reads 'cancelled' at once but finishes its step (here longer than a few polls), then
  // writes its last lines and lets go.
  await sleep(2000);
  appendRunLog(lib, id, 'trainer', 'step 2: loss 2.1');
  appendRunLog(lib, id, 'studio', 'cancelled');
  releaseRun(lib, id);
  const r = await following;
  assert.equal(r.code, 0, r.err);
  // Bug: it stopped following on reading 'cancelled', without the step's line nor the last one.
  assert.deepEqual(texts(r.out), ['step 1: loss 2.5', 'step 2: loss 2.1', 'cancelled']);
});

test('runs logs --follow: Ctrl-C stops following (130), --json still prints what was read', async () => {
  const { id } = createRun(lib, { name: 'watched' });
  setRunStatus(lib, id, 'running');
  appendRunLog(lib, id, 'trainer', 'step 1');
  const following = cli('runs', 'logs', String(id), '--follow', '--json');
  await sleep(700);
  process.emit('SIGINT', 'SIGINT');
  const r = await following;
  assert.equal(r.code, 130, r.err);
  assert.deepEqual(texts(r.out), ['step 1']);
});

test('runs cancel of a paused or queued run is in its log, with when (nothing runs it to say so)', async () => {
  // Bug: the log of a paused run ended "paused (last checkpoint: step 64)" after `runs cancel`.
  const { id: paused } = createRun(lib, { name: 'paused' });
  setRunStatus(lib, paused, 'paused');
  appendRunLog(lib, paused, 'studio', 'paused (last checkpoint: step 4)');
  recordCheckpoint(lib, paused, 4, join(runFolder(lib, paused), 'checkpoints', 'step-000004'), 10);
  const { id: queued } = createRun(lib, { name: 'queued' });
  for (const [id, said] of [
    [paused, 'cancelled (last checkpoint: step 4)'],
    [queued, 'cancelled'],
  ] as const) {
    const before = Date.now();
    const c = await cli('runs', 'cancel', String(id));
    assert.equal(c.code, 0, c.err);
    const r = await cli('runs', 'logs', String(id), '--json');
    const last = JSON.parse(r.out).lines.at(-1) as { text: string; at: number; source: string };
    assert.deepEqual([last.text, last.source], [said, 'studio']);
    assert.ok(last.at >= before && last.at <= Date.now(), 'when');
  }
});
