// What a Ctrl-C before the first step of `reft-studio train` says follows the phase the trainer tells
// (TrainHooks.onPhase), not the words of its log lines: the CLI once read the phase from them ("data: "
// ended the data preparation, "converting the base weights" began a conversion), and a reworded line
// made a Ctrl-C during a conversion say "stopping the data preparation". Here the CLI runs with those
// lines reworded in the source (tests/helpers/reworded-log-lines.mjs) and is stopped in the conversion.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { BIN, ROOT } from '../backend/helpers.ts';
import { slowToConvertLlama } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

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
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const logs: string[] = [];
  const results: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line);
    if (e.event === 'result') results.push(e);
    if (e.event !== 'log') return;
    logs.push(e.message);
    if (e.message.startsWith('rewriting the base weights') && !child.killed) child.kill('SIGINT');
  });
  assert.equal(await closed, 130, stderr);
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
  assert.deepEqual(
    results.map((r) => [r.status, r.step]),
    [['paused', 0]],
  );
});
