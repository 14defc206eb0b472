// A running run's ETA and tokens/s from its stored steps (run-pace.ts), on a real library file.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { closeLibrary, openLibrary } from './library.ts';
import { runPace } from './run-pace.ts';
import { createRun, getRunRecord, setRunStatus } from './runs.ts';

test('a resumed run: its restored steps and the load before its first step do not skew the ETA', () => {
  const lib = openLibrary(join(tempDir('reft-run-pace-'), 'data'));
  try {
    const run = createRun(lib, { name: 'r', totalSteps: 100 });
    assert.equal(runPace(lib, getRunRecord(lib, run.id)), null, 'queued: no pace');
    setRunStatus(lib, run.id, 'running');
    const put = lib.db.prepare(
      'INSERT INTO run_metrics (run_id, step, loss, tokens_per_s, created_at) VALUES (?, ?, 1, ?, ?)',
    );
    put.run(run.id, 1, 50, 1_000);
    assert.deepEqual(runPace(lib, getRunRecord(lib, run.id)), { etaS: null, tokensPerS: 50 }, 'one step');
    // Steps 2–10 restored from a checkpoint at one instant, 60 s of loading, then a step each 2 s.
    for (let s = 2; s <= 10; s++) put.run(run.id, s, 50, 5_000);
    for (let s = 11; s <= 16; s++) put.run(run.id, s, 80, 65_000 + (s - 11) * 2_000);
    const pace = runPace(lib, getRunRecord(lib, run.id));
    assert.deepEqual(pace, { etaS: (100 - 16) * 2, tokensPerS: 80 });
    setRunStatus(lib, run.id, 'paused');
    assert.equal(runPace(lib, getRunRecord(lib, run.id)), null, 'not running: no pace');
  } finally {
    closeLibrary(lib);
  }
});
