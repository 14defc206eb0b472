// `reft-studio runs cancel ID` beside a run training in another process: the run reads 'cancelled'
// at once but trains on to the end of its step, so the command waits (bounded) for the run's process
// to let go of it and says where it stopped. Before: "run N cancelled" at step 6 while the run went
// on to step 11, reading its status at most every two seconds.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { shellWord } from '../../cli/shell-word.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { appendMetrics, createRun, getRunRecord, setRunStatus } from '../../electron/backend/library/runs.ts';
import { spawnCliTraining } from '../backend/helpers.ts';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { followEvents, jsonStream } from './json-stream.ts';

const dir = tempDir('reft-runs-cancel-');
const dataDir = join(dir, 'data');

test('runs cancel: waits for a run training elsewhere to stop, and says the step it stopped at', {
  timeout: 180_000,
}, async () => {
  const rows = join(dir, 'rows.jsonl');
  writeFileSync(
    rows,
    Array.from({ length: 64 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}: what is ${i} plus ${i}?`, completion: `It is ${2 * i}.` }),
    ).join('\n'),
  );
  const child = spawnCliTraining(rows, dataDir, 'pipe', ['--json']);
  let started: (id: number) => void;
  const stepping = new Promise<number>((resolve) => (started = resolve));
  const followed = followEvents(child, (e) => {
    if (e.event === 'progress' && e.step >= 2) started(e.runId);
  });

  const id = await stepping;
  const cancel = await cliIn(dataDir, 'runs', 'cancel', String(id), '--json');
  assert.equal(cancel.code, 0, cancel.err);
  const answer = JSON.parse(cancel.out);
  const stopped = await followed;
  assert.equal(stopped.code, 130, stopped.stderr);
  const { result } = jsonStream(stopped.stdout, stopped.stderr);
  assert.equal(result?.status, 'cancelled');
  // It answered once the run had stopped, at the step the run really stopped at.
  assert.equal(answer.lastStep, result?.step);
  assert.equal(answer.stopped, true);
  assert.equal(answer.status, 'cancelled');
  assert.ok((result?.step as number) < 500);
});

test('runs cancel: a run still in its step past the wait is said to stop at its end', async () => {
  // A run "training" in this process, which never stops: the command cannot see it stop.
  const lib = openLibrary(dataDir);
  after(() => closeLibrary(lib));
  const { id } = createRun(lib, { name: 'busy' });
  setRunStatus(lib, id, 'running');
  appendMetrics(lib, id, [
    { step: 1, epoch: 0, loss: 3, lr: 0.001, gradNorm: null, tokensPerS: null, evalLoss: null },
  ]);
  const cancel = await cliIn(dataDir, 'runs', 'cancel', String(id));
  assert.equal(cancel.code, 0, cancel.err);
  assert.equal(
    cancel.out,
    `run ${id} cancelled; it is still finishing its step 2 and stops at its end (see: reft-studio runs show ${id} --data-dir ${shellWord(dataDir)})\n`,
  );
  assert.equal(getRunRecord(lib, id).status, 'cancelled');
});
