// An evaluation of an adapter trained through the chat template, on a copy of its base without one
// (the same weights, so the library evaluates it there): refused for every kind, naming the adapter
// as the studio does (its id and name, as generate/run does), and nothing recorded. It used to say
// "dataset “d” v1: line 1: the temporary file no-template: the model has no chat template" for a
// generation, and to measure the loss on prompts formatted unlike its training, unsaid.

import assert from 'node:assert/strict';
import { copyFileSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import { pyreftToStudio, writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { REFT } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, runCli, tempDir } from './helpers.ts';

const root = tempDir('evaluation-chat-adapter');
const b: Backend = createBackend(join(root, 'data'), { seedDemo: false });
const { call, callError } = inProcess(() => b);
after(() => b.close());

test('a chat-trained adapter on a base without a chat template: refused, the adapter named', {
  timeout: 180_000,
}, async () => {
  const bare = join(root, 'no-template');
  cpSync(LLAMA_FIXTURE, bare, { recursive: true });
  rmSync(join(bare, 'chat_template.jinja'));
  const model = await call('models/add', { path: bare, name: 'no template' });
  const spec = loadModelSpec(bare);
  const folder = join(root, 'chat-adapter');
  writeStudioAdapter(
    folder,
    pyreftToStudio(readPyreftFolder(join(REFT, 'llama-loreft-l1-shared', 'pyreft_final')), {
      positions: 'l1',
      baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
      promptTemplate: 'chat',
    }),
  );
  const { adapter } = await call('adapters/import', { path: folder, name: 'chatty' });
  const file = join(root, 'd.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'Is it?', completion: ' yes' })}\n`);
  const { dataset } = await call('datasets/import', { path: file });

  const run = { adapterId: adapter.id, datasetId: dataset.id, maxNewTokens: 2 };
  const expected = `adapter ${adapter.id} ("chatty") was trained on chat-formatted prompts, and this model has no chat template: it is evaluated on model ${model.id} ("no template"), the library's model with its base's weights; give that folder the chat template it was trained with (chat_template.jinja, or chat_template in tokenizer_config.json)`;
  for (const kind of ['loss', 'exact-match', 'compare']) {
    const e = await callError('evaluations/run', { ...run, kind });
    assert.deepEqual([e.code, e.message], ['adapter-needs-chat-template', expected], kind);
  }
  assert.deepEqual(await call('evaluations/list', { adapterId: adapter.id }), []);
  // The CLI names a library adapter the same way, and the model folder it used.
  const cli = await runCli([
    'evaluate',
    '--adapter',
    String(adapter.id),
    '--data',
    String(dataset.id),
    '--model',
    String(model.id),
    '--data-dir',
    join(root, 'data'),
  ]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(
    cli.stderr,
    new RegExp(
      `^error: adapter ${adapter.id} \\("chatty"\\) was trained on chat-formatted prompts, and this model has no chat template: it is evaluated on ${bare}; .* or choose another with --model\\n$`,
    ),
  );

  // As the message says: with its template back, the same evaluation runs.
  copyFileSync(join(LLAMA_FIXTURE, 'chat_template.jinja'), join(bare, 'chat_template.jinja'));
  const ran = await call('evaluations/run', { ...run, kind: 'exact-match' });
  assert.equal(ran.status, 'completed', ran.error ?? '');
});
