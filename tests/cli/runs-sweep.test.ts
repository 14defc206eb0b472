// A sweep's runs (the studio's "Try several values", runs/start-many) from the command line:
// `runs list` has a SWEEP column and `runs show` says which sweep the run is in, what it varies
// and its runs still in the library; --json has had them all along (sweepId, sweep).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { cancelRun, createRun, deleteRun } from '../../electron/backend/library/runs.ts';
import { createSweep } from '../../electron/backend/library/sweeps.ts';
import { cliIn } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const dataDir = join(tempDir('reft-runs-sweep-'), 'data');
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);
const lib = openLibrary(dataDir);
after(() => closeLibrary(lib));

test('runs list and runs show name the sweep a run was queued in', async () => {
  const alone = createRun(lib, { name: 'alone' }).id;
  const sweepId = createSweep(lib, ['lr', 'rank']);
  const [a, b, c] = ['lr 1e-3 · rank 4', 'lr 1e-3 · rank 8', 'lr 4e-3 · rank 4'].map(
    (name) => createRun(lib, { name, sweepId }).id,
  );

  const list = await cli('runs', 'list');
  assert.equal(list.code, 0, list.err);
  const [head, ...rows] = list.out.trim().split('\n');
  assert.match(head ?? '', /^ID +NAME +SWEEP +STATUS /);
  const sweepOf = (id: number | undefined) => rows.find((r) => r.startsWith(`${id} `))?.split(/ {2,}/)[2];
  assert.deepEqual([a, b, c, alone].map(sweepOf), [String(sweepId), String(sweepId), String(sweepId), '-']);

  const show = await cli('runs', 'show', String(b));
  assert.equal(show.code, 0, show.err);
  assert.match(
    show.out,
    new RegExp(`\\nsweep ${sweepId} \\(learning rate × rank\\): runs ${a}, ${b}, ${c}\\n`),
  );
  assert.doesNotMatch((await cli('runs', 'show', String(alone))).out, /sweep/);

  for (const id of [a, c]) {
    cancelRun(lib, id);
    deleteRun(lib, id);
  }
  const last = await cli('runs', 'show', String(b));
  assert.match(
    last.out,
    new RegExp(`\\nsweep ${sweepId} \\(learning rate × rank\\): its other runs were deleted\\n`),
  );
  assert.equal(JSON.parse((await cli('runs', 'show', String(b), '--json')).out).sweepId, sweepId);
});
