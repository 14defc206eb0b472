// The precision a run really trained at, recorded beside the one it asked for: a bf16 checkpoint on
// the CPU computes in fp32 (the CPU has no bfloat16 kernels), which `--dtype auto` (the default)
// settles there. Before, the run kept only `dtype: auto` and the log said the rest; now the trainer's
// `device` event, `train --json`'s result, `runs show` and `runs list --json` carry `precision`, and a
// run asked fp16 records fp16 (what the session computes in, not a constant). A real training of the
// fixtures on the CPU, through the CLI in this process, into a real library file.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { jsonStream } from '../cli/json-stream.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { constantRows, tempDir, writeJsonl } from './helpers.ts';

const dir = tempDir('reft-run-precision-');
const dataDir = join(dir, 'data');
const rows = writeJsonl(join(dir, 'rows.jsonl'), constantRows('yes').slice(0, 4));
const cli = (...argv: string[]) => cliIn(dataDir, ...argv);

/** One step of `model` with `flags`: the device event of its --json stream (stderr) and its result. */
async function trainOneStep(model: string, ...flags: string[]) {
  const r = await cli(
    'train',
    '--model',
    modelDir(model),
    '--data',
    rows,
    '--max-steps',
    '1',
    '--device',
    'cpu',
    '--json',
    ...flags,
  );
  assert.equal(r.code, 0, r.err);
  const { events, result } = jsonStream(r.out, r.err);
  return { device: events.find((e) => e.event === 'device'), result };
}

test('a bf16 checkpoint trained on the CPU with --dtype auto records fp32, and shows it beside auto', {
  timeout: 120_000,
}, async () => {
  const { device, result } = await trainOneStep('llama-bf16', '--dtype', 'auto');
  assert.deepEqual(device, {
    event: 'device',
    runId: result.runId,
    requested: 'cpu',
    device: 'cpu',
    fallback: null,
    precision: 'fp32',
  });
  assert.equal(result.precision, 'fp32');
  const show = JSON.parse((await cli('runs', 'show', String(result.runId), '--json')).out);
  assert.deepEqual([show.config.dtype, show.precision], ['auto', 'fp32']);
  const list = JSON.parse((await cli('runs', 'list', '--json')).out) as {
    runs: { id: number; precision: string }[];
  };
  assert.equal(list.runs.find((r) => r.id === result.runId)?.precision, 'fp32');
  const text = (await cli('runs', 'show', String(result.runId))).out;
  // auto's choice reads plainly, as a device auto picks does; the Configuration keeps what was asked.
  assert.match(text, /^precision: fp32$/m);
  assert.match(text, /^ {4}Precision +auto \(ran in fp32\)$/m);
});

test('a run asked fp16 on the CPU records fp16: what its session computed in', {
  timeout: 120_000,
}, async () => {
  const { device, result } = await trainOneStep('llama-bf16', '--dtype', 'fp16');
  assert.equal(device?.precision, 'fp16');
  const text = (await cli('runs', 'show', String(result.runId))).out;
  assert.match(text, /^precision: fp16$/m, 'asked and computed in: said once');
});
