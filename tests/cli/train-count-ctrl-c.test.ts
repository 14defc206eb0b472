// Ctrl-C while `reft-studio train` waits on its memory check's token count (a batch refused at the
// max length makes it count the data's longest example: tens of seconds for 60,000 rows). The count
// runs in the CLI's own process, on its only thread, so no JavaScript handler could hear the Ctrl-C
// before it ends: Node's default must stay in force until training starts (cli/run-training.ts takes
// Ctrl-C over there), ending the process at once with nothing recorded. The model is a Llama-7B
// shape in a sparse file, as in tests/backend/estimate-count-cancel.test.ts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, ROOT, runCli, tempDir, writeCountingFile } from '../backend/helpers.ts';
import { smallestRefusedBatch, sparseLlama } from '../helpers/models.ts';

const MAX_LENGTH = 1024;

test('Ctrl-C during the memory check of `train` ends it at once, recording no run', {
  timeout: 180_000,
}, async () => {
  const root = tempDir('train-count-ctrl-c');
  const model = sparseLlama(root, 4);
  const data = writeCountingFile(root);
  const dataDir = join(root, 'data');
  const batch = await smallestRefusedBatch(model, MAX_LENGTH);
  const args = ['train', '--model', model, '--data', data, '--quantize', 'int4', '--device', 'cpu'];
  const child = spawn(
    process.execPath,
    [BIN, ...args, '--max-length', String(MAX_LENGTH), '--batch-size', String(batch), '--data-dir', dataDir],
    { cwd: ROOT, env: { ...process.env, REFT_STUDIO_MEMORY_CHECK: undefined } },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<NodeJS.Signals | number | null>((r) =>
    child.on('close', (code, signal) => r(signal ?? code)),
  );
  // The data is frozen (its file beside the demo dataset's) just before the check plans and counts.
  const frozen = join(dataDir, 'datasets');
  while (!(existsSync(frozen) && readdirSync(frozen).length >= 2) && child.exitCode === null) await sleep(50);
  await sleep(3000); // into the count
  assert.equal(child.exitCode, null, `train ended before its count: ${stderr}`);
  child.kill('SIGINT');
  const ended = await Promise.race([closed, sleep(5000).then(() => 'still running 5 s after Ctrl-C')]);
  if (ended === 'still running 5 s after Ctrl-C') child.kill('SIGKILL');
  // Bug to keep out: a Ctrl-C handler installed before the count, which waits for the whole count.
  assert.ok(ended === 'SIGINT' || ended === 130, `ended with ${ended}: ${stderr}`);
  const runs = await runCli(['runs', 'list', '--json', '--data-dir', dataDir]);
  assert.deepEqual(JSON.parse(runs.stdout), { runs: [] });
});
