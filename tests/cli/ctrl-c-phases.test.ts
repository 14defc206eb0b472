// What a Ctrl-C before the first step of `reft-studio train` says follows the phase the trainer tells
// (TrainHooks.onPhase), not the words of its log lines: the CLI once read the phase from them ("data: "
// ended the data preparation, "converting the base weights" began a conversion), and a reworded line
// made a Ctrl-C during a conversion say "stopping the data preparation". Here the CLI runs with those
// lines reworded in the source (tests/helpers/reworded-log-lines.mjs) and is stopped in the conversion.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, ROOT } from '../backend/helpers.ts';
import { slowToConvertLlama } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import { followEvents, jsonStream } from './json-stream.ts';

const REWORDED = join(ROOT, 'tests', 'helpers', 'reworded-log-lines.mjs');

test('Ctrl-C in a conversion says so, whatever the log lines say', { timeout: 180_000 }, async () => {
  const root = tempDir('ctrl-c-phases-');
  const model = await slowToConvertLlama(join(root, 'model'));
  const data = join(ROOT, 'resources', 'demo', 'persona.jsonl');
  const args = [
    'train',
    '--model',
    model,
    '--data',
    data,
    '--max-steps',
    '1',
    '--quantize',
    'int8',
    '--layers',
    '1',
  ];
  const child = spawn(
    process.execPath,
    ['--import', REWORDED, BIN, ...args, '--json', '--data-dir', join(root, 'home')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { code, events, stdout, stderr } = await followEvents(child, (e) => {
    if (e.event === 'log' && e.message.startsWith('rewriting the base weights') && !child.killed)
      child.kill('SIGINT');
  });
  assert.equal(code, 130, stderr);
  const logs: string[] = events.filter((e) => e.event === 'log').map((e) => e.message);
  const all = logs.join('\n');
  // The lines were reworded: the old reading of them would have stayed in the data phase.
  assert.match(all, /^dataset ready: /m);
  assert.doesNotMatch(all, /^(data|converting the base weights)\b/m);
  assert.ok(
    logs.includes(
      'stopping before training starts (a conversion of the base weights resumes where it stopped)',
    ),
    all,
  );
  assert.ok(!logs.some((m) => m.startsWith('stopping the data preparation')), all);
  // --json's one object on stdout says where it stopped.
  const result = jsonStream(stdout, stderr).result;
  assert.deepEqual([result.status, result.step], ['paused', 0]);
});
