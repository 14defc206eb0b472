// Opening a training session reads every weight — 40 s and more for an 8B model on 2 cores — and
// nothing was said between the base weights' line and the first step's: the run looked hung. The
// trainer logs that it is loading the model before opening the session.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { train } from '../../native-runtime/training/trainer.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

test('the run log says the model is loading before the first step', async () => {
  const dir = tempDir('load-notice-');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 4));
  const events: string[] = [];
  await train(
    { ...llamaRun(data, { maxSteps: 1 }), out: join(dir, 'out') },
    { onLog: (m) => events.push(`log: ${m}`), onProgress: (p) => events.push(`step ${p.step}`) },
  );
  const loading = events.indexOf('log: loading the model into ONNX Runtime');
  assert.ok(loading >= 0, events.join('\n'));
  assert.ok(loading < events.indexOf('step 1'), events.join('\n'));
});
