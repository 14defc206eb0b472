// A studio run's log keeps its warnings marked (level 'warn'), as the trainer said them: the run page
// shows "warning: " from that mark (RunLog.svelte), never from the words. Examples left out of the run
// (a one-token prompt, where no intervention can be placed) were a plain note.
// The engine's side and the CLI's: tests/training/warning-levels.test.ts.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { modelWithoutBos, writeJsonl } from '../training/helpers.ts';
import { inProcess, tempDir, waitFor } from './helpers.ts';

const root = tempDir('run-log-warnings');
const b: Backend = createBackend(join(root, 'data'), { seedDemo: false });
after(() => b.close());
const { call } = inProcess(() => b);

test("a run's left-out examples are a warning in its stored log", { timeout: 120_000 }, async () => {
  const model = modelWithoutBos(join(root, 'no-bos'));
  const modelId = (await call('models/add', { path: model })).id;
  const long = (i: number) => ({
    prompt: `Question ${i}: what is ${i} plus ${i}?`,
    completion: `It is ${2 * i}.`,
  });
  const file = writeJsonl(join(root, 'mixed.jsonl'), [
    { prompt: 'a', completion: 'It is 2.' },
    long(1),
    long(2),
  ]);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  const { runId } = await call('runs/start', {
    modelId,
    datasetId,
    layers: '1',
    rank: 1,
    maxSteps: 1,
    chatTemplate: 'none',
  });
  const run = await waitFor('the run to end', async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: runId });
    return ['completed', 'failed'].includes(r.status) ? r : null;
  });
  assert.equal(run.status, 'completed', run.error ?? '');
  const logged: { text: string; level?: string }[] = await call('runs/logs', { id: runId });
  const leftOut = logged.filter((l) => l.text.startsWith('data: 1 of 3 training examples left out (line 1)'));
  assert.equal(leftOut.length, 1, JSON.stringify(logged));
  assert.equal(leftOut[0].level, 'warn');
});
