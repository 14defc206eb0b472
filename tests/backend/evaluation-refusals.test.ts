// A request the evaluation refuses (a prompt longer than the model reads, here) is the caller's error,
// and nothing is added to the adapter's history; an evaluation that started is recorded as before.
// Both refusals were stored as 'failed' evaluations: the record was written before the engine had
// checked the request (`reft-studio evaluate` with a library adapter, and 'evaluations/run').

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { REFT } from '../helpers/fixtures.ts';
import { cliJson, inProcess, LLAMA_FIXTURE, runCli, tempDir } from './helpers.ts';

const root = tempDir('evaluation-refusals');
const dataDir = join(root, 'data');
let b: Backend | null = null;
const { call, callError } = inProcess(() => b as Backend);
after(() => b?.close());

const cliIn = (...args: string[]) => cliJson(dataDir, ...args);

function jsonl(name: string, prompt: string): string {
  const file = join(root, name);
  writeFileSync(file, `${JSON.stringify({ prompt, completion: ' yes' })}\n`);
  return file;
}

test('a refused evaluation is not recorded; one that ran is', { timeout: 180_000 }, async () => {
  const model = await cliIn('models', 'add', LLAMA_FIXTURE);
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = await cliIn('import', pyreft, '--model', String(model.id), '--positions', 'l1');
  // Well past the fixture's 255 prompt tokens.
  const long = jsonl('long.jsonl', 'one two three four five six seven eight nine ten '.repeat(60));
  const { dataset: longSet } = await cliIn('datasets', 'import', long);
  const { dataset: shortSet } = await cliIn('datasets', 'import', jsonl('short.jsonl', 'Is it?'));

  // The CLI, with the library adapter: bad input (exit 1, one line), no evaluation stored.
  const cli = await runCli([
    'evaluate',
    '--adapter',
    String(adapter.id),
    '--data',
    String(longSet.id),
    '--kind',
    'exact-match',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(cli.code, 1, cli.stderr);
  // The data as the user knows it, not the library's frozen copy (datasets/<sha256>.jsonl).
  assert.match(
    cli.stderr,
    /^error: dataset “long” v1: line 1: the prompt has \d+ tokens; the model takes at most 255\n$/,
  );

  b = createBackend(dataDir, { seedDemo: false });
  assert.deepEqual(await call('evaluations/list', { adapterId: adapter.id }), []);

  // The studio: an error reply, no evaluation stored.
  const e = await callError('evaluations/run', {
    adapterId: adapter.id,
    datasetId: longSet.id,
    kind: 'compare',
  });
  assert.equal(e.code, 'prompt-too-long');
  assert.match(e.message, /^dataset “long” v1: line 1: the prompt has \d+ tokens/);
  assert.deepEqual(await call('evaluations/list', { adapterId: adapter.id }), []);

  // An evaluation that starts is recorded, to its end.
  const ran = await call('evaluations/run', {
    adapterId: adapter.id,
    datasetId: shortSet.id,
    kind: 'exact-match',
    maxNewTokens: 2,
  });
  assert.equal(ran.status, 'completed', ran.error ?? '');
  const list = await call('evaluations/list', { adapterId: adapter.id });
  assert.deepEqual(
    list.map((x: { id: number; status: string }) => [x.id, x.status]),
    [[ran.id, 'completed']],
  );
});
