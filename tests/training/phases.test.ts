// The trainer tells each phase of a run as it begins (TrainHooks.onPhase): the CLI's Ctrl-C says what
// it stops by the phase, and read it from the words of the log lines before ("data: " ended the data
// preparation, "converting the base weights" began a conversion), which a reworded line broke
// silently. Real runs on the Llama fixture: each phase is told once, in order, where it begins.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TrainHooks } from '../../native-runtime/training/trainer.ts';
import { train } from '../../native-runtime/training/trainer.ts';
import { constantRows, llamaRun, tempDir, writeJsonl } from './helpers.ts';

/** What a run reports, in order: its phases, its log lines' first words, its device and steps. */
function recorder(): { events: string[]; hooks: TrainHooks } {
  const events: string[] = [];
  return {
    events,
    hooks: {
      onPhase: (p) => events.push(`phase ${p}`),
      onLog: (m) => events.push(`log ${m}`),
      onDevice: () => events.push('device'),
      onProgress: (p) => events.push(`step ${p.step}`),
    },
  };
}

const phases = (events: string[]) => events.filter((e) => e.startsWith('phase ')).map((e) => e.slice(6));
const firstAt = (events: string[], prefix: string) => events.findIndex((e) => e.startsWith(prefix));

test('a float32 run: data, then model, then training, each where it begins', async () => {
  const dir = tempDir('phases-');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 4));
  const { events, hooks } = recorder();
  await train({ ...llamaRun(data, { maxSteps: 1 }), out: join(dir, 'out') }, hooks);
  const all = events.join('\n');
  assert.deepEqual(phases(events), ['data', 'model', 'training'], all);
  assert.equal(events[0], 'phase data', all);
  // The data is prepared once its summary is said; the session loads in the model phase.
  assert.ok(firstAt(events, 'log data: ') < events.indexOf('phase model'), all);
  assert.ok(events.indexOf('phase model') < firstAt(events, 'log loading the model'), all);
  // Training begins once the session exists: before its device and its first step.
  assert.ok(firstAt(events, 'log loading the model') < events.indexOf('phase training'), all);
  assert.ok(events.indexOf('phase training') < events.indexOf('device'), all);
  assert.ok(events.indexOf('device') < events.indexOf('step 1'), all);
});

test('a run that converts its base weights: the conversion between the model phase and the loading', async () => {
  const dir = tempDir('phases-int8-');
  const data = writeJsonl(join(dir, 'd.jsonl'), constantRows('yes').slice(0, 4));
  const { events, hooks } = recorder();
  await train(
    {
      ...llamaRun(data, { maxSteps: 1, quantize: 'int8' }),
      dataDir: join(dir, 'studio'),
      out: join(dir, 'out'),
    },
    hooks,
  );
  const all = events.join('\n');
  // Told once though the base and then its backward layout for training are converted in turn.
  assert.deepEqual(phases(events), ['data', 'model', 'conversion', 'model', 'training'], all);
  const conversion = events.indexOf('phase conversion');
  assert.equal(events[conversion + 1]?.startsWith('log converting the base weights'), true, all);
  const loading = events.lastIndexOf('phase model');
  assert.ok(events.filter((e, i) => i > loading && e.startsWith('log converting')).length === 0, all);
  assert.equal(events[loading + 1], 'log loading the model into ONNX Runtime', all);
  assert.ok(loading < events.indexOf('phase training'), all);
});

test('a run that fails in its data preparation was told the data phase only', async () => {
  const dir = tempDir('phases-bad-');
  const data = writeJsonl(join(dir, 'd.jsonl'), [{ prompt: 'only a prompt' }]);
  const { events, hooks } = recorder();
  await assert.rejects(train({ ...llamaRun(data), out: join(dir, 'out') }, hooks));
  assert.deepEqual(phases(events), ['data'], events.join('\n'));
});
