// `evaluate` measures the base model on the prompts the adapter reads: an adapter trained on plain
// text (no chat template) on a model that has one is compared with the base on plain text too, for
// the loss and for generated outputs alike. A prompt the model cannot read is refused before any
// generation and before an int8 base is converted, naming its line; examples cut to the max length are
// counted in the loss's metrics. A chat example is answered from its whole conversation through the
// template, as training reads it.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../native-runtime/errors.ts';
import { evaluateAdapter } from '../../native-runtime/evaluation/evaluate.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import { pyreftToStudio, writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { readDataset } from '../../native-runtime/training/data.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { modelWithoutBosOrTemplate } from '../training/helpers.ts';

const model = modelDir('llama'); // has a chat template

function plainAdapter(dir: string): string {
  const spec = loadModelSpec(model);
  const py = readPyreftFolder(join(REFT, 'llama-loreft-l1-shared', 'pyreft_final'));
  const adapter = pyreftToStudio(py, {
    positions: 'l1',
    promptTemplate: null,
    baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
  });
  writeStudioAdapter(dir, adapter);
  return dir;
}

test('evaluate: the base model reads the prompts as the adapter was trained (plain text here)', async () => {
  const root = tempDir('reft-eval-prompts-');
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'data.jsonl');
  writeFileSync(
    data,
    [
      { prompt: 'hello', completion: ' world' },
      { prompt: 'the cat', completion: ' sat' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const base = await ModelRunner.load(model, null);
  try {
    const ds = readDataset(data);
    const plain = await base.datasetLoss(ds, { chat: false });
    const templated = await base.datasetLoss(ds, { chat: true });
    assert.notEqual(plain.loss, templated.loss, 'the two prompt forms must differ for this check');

    const loss = await evaluateAdapter({ model, adapter, data, kind: 'loss' });
    assert.equal(loss.metrics.baseLoss, plain.loss);

    const cmp = await evaluateAdapter({ model, adapter, data, kind: 'compare', maxNewTokens: 4 });
    const plainOut = await base.generate(['hello', 'the cat'], {
      chat: false,
      greedy: true,
      maxNewTokens: 4,
    });
    assert.deepEqual(
      cmp.samples.map((s) => s.baseOutput),
      plainOut.map((r) => r.text),
    );
  } finally {
    await base.release();
  }
});

test('evaluate: a prompt too long for the model is refused up front, naming its line; loss says what it cut', async () => {
  const root = tempDir('reft-eval-long-');
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'data.jsonl');
  const rows = [
    { prompt: 'hello', completion: ' world' },
    { prompt: 'a'.repeat(300), completion: ' x' }, // over the Llama fixture's 256 positions
    { prompt: 'the cat', completion: ' sat' },
  ];
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  let generated = 0;
  // An int8 base would be converted first (minutes on a large model): refused before that too.
  const dataDir = join(root, 'home');
  await assert.rejects(
    evaluateAdapter({
      model,
      adapter,
      data,
      kind: 'exact-match',
      maxNewTokens: 2,
      batchSize: 1,
      quantize: 'int8',
      dataDir,
      onProgress: () => generated++,
    }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.code === 'prompt-too-long' &&
      e.message.startsWith(`${data}: line 2: the prompt has `),
  );
  assert.equal(generated, 0, 'refused before the first example was generated');
  assert.equal(existsSync(join(dataDir, 'bases')), false, 'refused before the base was converted');
  // The loss measures examples cut to their max length, and says how many were.
  const loss = await evaluateAdapter({ model, adapter, data, kind: 'loss', maxLength: 64 });
  assert.equal(loss.metrics.truncated, 1);
  const short = await evaluateAdapter({ model, adapter, data, kind: 'loss', limit: 1 });
  assert.equal(short.metrics.truncated, undefined);
});

test('evaluate: a loss over a prompt the model reads as no tokens is refused before the base is converted', async () => {
  const root = tempDir('reft-eval-blank-');
  // A tokenizer that adds no start token and strips blanks: a blank prompt is no tokens.
  const blankModel = modelWithoutBosOrTemplate(join(root, 'model'));
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'data.jsonl');
  const rows = [
    { prompt: 'hello', completion: ' world' },
    { prompt: '   ', completion: ' x' },
  ];
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  const dataDir = join(root, 'home');
  await assert.rejects(
    evaluateAdapter({ model: blankModel, adapter, data, kind: 'loss', quantize: 'int8', dataDir }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.code === 'empty-prompt' &&
      e.message === `${data}: line 2: the prompt has no tokens`,
  );
  assert.equal(existsSync(join(dataDir, 'bases')), false, 'refused before the base was converted');
});

test('evaluate: a chat dataset on a model without a chat template is refused with what an evaluation can do', async () => {
  const root = tempDir('reft-eval-no-template-');
  const noTemplate = modelWithoutBosOrTemplate(join(root, 'model'));
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'chat.jsonl');
  const chat = (q: string, a: string) => ({
    messages: [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ],
  });
  writeFileSync(data, [chat('hi', 'hello'), chat('2+2?', '4')].map((r) => JSON.stringify(r)).join('\n'));
  const dataDir = join(root, 'home');
  // Not the Playground's advice ("send a single prompt"): an evaluation chooses its dataset.
  const message = `${data}: line 1: this model has no chat template, so it cannot read a conversation: evaluate on a dataset of prompts and completions instead`;
  for (const kind of ['loss', 'exact-match'] as const)
    await assert.rejects(
      evaluateAdapter({ model: noTemplate, adapter, data, kind, quantize: 'int8', dataDir }),
      (e: Error) => e instanceof ConfigError && e.code === 'missing-chat-template' && e.message === message,
    );
  assert.equal(existsSync(join(dataDir, 'bases')), false, 'refused before the base was converted');
});

test('evaluate: a chat example is generated from its whole conversation, as training reads it', async () => {
  const root = tempDir('reft-eval-chat-');
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'chat.jsonl');
  const conversations = [
    [
      { role: 'system' as const, content: 'Answer in French.' },
      { role: 'user' as const, content: 'Hello?' },
    ],
    [
      { role: 'user' as const, content: 'What is 1+1?' },
      { role: 'assistant' as const, content: '2' },
      { role: 'user' as const, content: 'And 2+2?' },
    ],
  ];
  writeFileSync(
    data,
    conversations
      .map((m) => JSON.stringify({ messages: [...m, { role: 'assistant', content: 'x' }] }))
      .join('\n'),
  );
  const report = await evaluateAdapter({ model, adapter, data, kind: 'exact-match', maxNewTokens: 6 });
  const runner = await ModelRunner.load(model, adapter);
  try {
    const opts = { greedy: true, maxNewTokens: 6 } as const;
    const whole = await runner.generate(
      conversations.map((messages) => ({ messages })),
      opts,
    );
    // The last user turn alone (what was sent before) answers otherwise.
    const lastTurn = await runner.generate(
      conversations.map((m) => ({ messages: [m[m.length - 1]] })),
      opts,
    );
    assert.notDeepEqual(
      whole.map((r) => r.text),
      lastTurn.map((r) => r.text),
      'the two prompt forms must differ for this check',
    );
    assert.deepEqual(
      report.samples.map((s) => s.output),
      whole.map((r) => r.text),
    );
    // A sample still shows the question asked.
    assert.deepEqual(
      report.samples.map((s) => s.prompt),
      ['Hello?', 'And 2+2?'],
    );
  } finally {
    await runner.release();
  }
});

test('evaluate: progress counts the examples the result reports, the base model measured beside each', async () => {
  // Bug: a loss or compare counted each model's pass, so `--limit 4` showed "8/8 examples" (and
  // the studio "8 of 8") for a result "on 4 examples"; now both models take each batch in turn.
  const root = tempDir('reft-eval-progress-');
  const adapter = plainAdapter(join(root, 'adapter'));
  const data = join(root, 'data.jsonl');
  const rows = ['one', 'two', 'three', 'four', 'five'].map((w) => ({ prompt: w, completion: ` ${w}!` }));
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  for (const kind of ['loss', 'compare', 'exact-match'] as const) {
    const seen: [number, number][] = [];
    const r = await evaluateAdapter({
      model,
      adapter,
      data,
      kind,
      batchSize: 2,
      maxNewTokens: 2,
      onProgress: (done, total) => seen.push([done, total]),
    });
    assert.equal(r.examples, 5, kind);
    assert.deepEqual(
      seen,
      [
        [0, 5],
        [2, 5],
        [4, 5],
        [5, 5],
      ],
      kind,
    );
    if (kind !== 'loss') continue;
    // Taking the batches in turn measures what each model measures alone: the adapter exactly, the
    // base (run on the adapter's session, its interventions given no positions) within 1e-6 of a
    // session of its own, which ONNX Runtime fuses slightly differently.
    const ds = readDataset(data);
    for (const [runner, loss, tolerance] of [
      [await ModelRunner.load(model, adapter), r.metrics.loss, 0],
      [await ModelRunner.load(model, null), r.metrics.baseLoss, 1e-6],
    ] as const) {
      try {
        const alone = (await runner.datasetLoss(ds, { chat: false, batchSize: 2 })).loss;
        assert.ok(Math.abs(alone - loss) <= tolerance * Math.abs(alone), `${loss} vs ${alone} alone`);
      } finally {
        await runner.release();
      }
    }
  }
});
