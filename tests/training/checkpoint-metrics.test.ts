// A checkpoint carries the metrics of its last CHECKPOINT_METRICS steps, not every step's: each one
// grew with the run before (670 KB of trainer-state.json at step 3,000), and a run keeping all its
// checkpoints took disk space in the square of its length. Nor does the run keep every step's in
// memory (~170 bytes a step, 170 MB at a million): each went out as it came, through onProgress.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CHECKPOINT_METRICS,
  listCheckpoints,
  readTrainerState,
  STATE_FILE,
} from '../../native-runtime/training/checkpoint.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

test('a long run’s checkpoints, and the run itself, keep a bounded tail of its metrics', async () => {
  const dir = tempDir('checkpoint-metrics');
  const data = writeJsonl(join(dir, 'train.jsonl'), constantRows('ok'));
  const steps = CHECKPOINT_METRICS + 60;
  // The smallest run that passes the bound: one intervention of rank 1, a checkpoint every 30 steps.
  const reported: number[] = [];
  const r = await train(
    {
      ...llamaRun(data, { layers: '1', positions: 'l1', rank: 1, epochs: 1_000 }),
      maxSteps: steps,
      checkpointEvery: 30,
      out: join(dir, 'out'),
    },
    { onProgress: (p) => reported.push(p.step) },
  );
  assert.equal(r.steps, steps);
  assert.deepEqual(
    reported,
    Array.from({ length: steps }, (_, i) => i + 1),
    'the run itself still reports every step',
  );
  assert.deepEqual(
    r.metrics.map((m) => m.step),
    Array.from({ length: CHECKPOINT_METRICS }, (_, i) => steps - CHECKPOINT_METRICS + i + 1),
    'and keeps only the tail a checkpoint carries',
  );
  const saved = listCheckpoints(join(dir, 'out.checkpoints'));
  const newest = saved[saved.length - 1];
  const last = readTrainerState(newest);
  assert.equal(last.step, steps);
  assert.equal(last.metrics.length, CHECKPOINT_METRICS);
  assert.deepEqual(
    [last.metrics[0].step, last.metrics[last.metrics.length - 1].step],
    [steps - CHECKPOINT_METRICS + 1, steps],
    'the newest steps, up to the checkpoint',
  );
  // An early checkpoint still carries every step before it.
  const first = readTrainerState(saved[0]);
  assert.deepEqual(
    first.metrics.map((m) => m.step),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  // So the state file stops growing once the bound is reached.
  const size = (d: string) => statSync(join(d, STATE_FILE)).size;
  const atBound = saved.filter((d) => readTrainerState(d).step >= CHECKPOINT_METRICS)[0];
  assert.ok(size(newest) < size(atBound) * 1.05, `${size(newest)} vs ${size(atBound)}`);
});
