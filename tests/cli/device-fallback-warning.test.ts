// A requested provider that cannot start falls back to the CPU with one line (session.ts onNotice).
// The CLI printed it as a plain note, where the software adapter's line, as grave a surprise, is a
// warning: on stderr it now begins `warning: ` (a --json log event's level 'warn'), once. This machine
// has no CUDA runtime pack in a fresh data folder, so `--device cuda` falls back.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sessionNotices } from '../../cli/base-form.ts';
import { createReporter } from '../../cli/progress/reporter.ts';
import { fallbackLine } from '../../native-runtime/runtime/device-choice.ts';
import { LLAMA_FIXTURE, runCli, tempDir } from '../backend/helpers.ts';
import { jsonStream } from './json-stream.ts';

const DATA = join(import.meta.dirname, '..', '..', 'resources', 'demo', 'persona.jsonl');
const FALLBACK = /^warning: device 'cuda' unavailable — cuda: .+; running on cpu$/;

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning:'));

test('a note prints as a warning when its sayer marks it one, whatever its words', () => {
  const printed: string[] = [];
  const notify = sessionNotices(createReporter({ mode: 'lines', write: (s) => printed.push(s) }));
  const fallback = fallbackLine({ requested: 'cuda', device: 'cpu', fallback: 'cuda: no driver' });
  // Bug: the kind was read from the words (a line starting "device '…' unavailable — "): a
  // reworded warning printed as a plain note.
  notify('the GPU went away; running on cpu', 'warn');
  notify(fallback, 'warn');
  notify('loading the model into ONNX Runtime');
  assert.deepEqual(printed, [
    'warning: the GPU went away; running on cpu\n',
    `warning: ${fallback}\n`,
    'loading the model into ONNX Runtime\n',
  ]);
});

test('train --device cuda without CUDA: one warning line on stderr says the fallback', async () => {
  const dir = tempDir('fallback-warning-');
  const args = ['train', '--model', LLAMA_FIXTURE, '--data', DATA, '--max-steps', '1', '--layers', '1'];
  const r = await runCli([...args, '--device', 'cuda', '--data-dir', join(dir, 'home')]);
  assert.equal(r.code, 0, r.stderr);
  const told = warnings(r.stderr);
  assert.equal(told.length, 1, r.stderr);
  assert.match(told[0] ?? '', FALLBACK);
  // Said once: no plain note repeats it.
  assert.equal(r.stderr.split('\n').filter((l) => l.includes("device 'cuda'")).length, 1, r.stderr);

  // --json: the same line, as a log event of level 'warn' (its message without the prefix).
  const j = await runCli([...args, '--device', 'cuda', '--json', '--data-dir', join(dir, 'json')]);
  assert.equal(j.code, 0, j.stderr);
  // The events go to stderr; stdout has the one result object.
  const { events } = jsonStream(j.stdout, j.stderr);
  const fallback = events.filter((e) => e.event === 'log' && e.message?.includes("device 'cuda'"));
  assert.deepEqual(
    fallback.map((e) => [e.level, FALLBACK.test(`warning: ${e.message}`)]),
    [['warn', true]],
  );
});

test('generate --device cuda without CUDA: the same one warning line', async () => {
  const dir = tempDir('fallback-warning-generate-');
  const r = await runCli([
    'generate',
    '--model',
    LLAMA_FIXTURE,
    '--prompt',
    'hi',
    '--max-new-tokens',
    '2',
    '--device',
    'cuda',
    '--data-dir',
    dir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const told = warnings(r.stderr);
  assert.equal(told.length, 1, r.stderr);
  assert.match(told[0] ?? '', FALLBACK);
});
