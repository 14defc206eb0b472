// `bench train` timed its steps after one untimed optimizer step, so its first timed step was the
// session's second run, which still pays ONNX Runtime's start-up costs (1.5–5× the CPU time of a
// later step on the demo model and this fixture); `bench prefill` had moved to two untimed passes
// for the same reason. Both now share one warm-up policy and say which in their JSON
// (`warmup_steps`), so a figure is never compared with one taken under another policy unawares.
// Real CLI runs on the smallest fixture and shapes; no timings are asserted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LLAMA_FIXTURE, runCli, tempDir } from '../backend/helpers.ts';

async function bench(what: 'train' | 'prefill', ...args: string[]): Promise<Record<string, unknown>> {
  const r = await runCli([
    'bench',
    what,
    '--model',
    LLAMA_FIXTURE,
    '--batch',
    '1',
    '--seq',
    '16',
    '--steps',
    '1',
    ...args,
    '--json',
    '--data-dir',
    tempDir(`bench-warmup-${what}-`),
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('bench train warms up as bench prefill does: more than one untimed step, said in the JSON', async () => {
  const train = await bench('train', '--prompt', '8', '--layers', '0');
  const prefill = await bench('prefill');
  assert.equal(typeof prefill.warmup_steps, 'number', JSON.stringify(prefill));
  assert.ok((prefill.warmup_steps as number) >= 2, JSON.stringify(prefill));
  assert.equal(train.warmup_steps, prefill.warmup_steps, JSON.stringify(train));
});
