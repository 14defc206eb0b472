// The renderer's pure helpers: curve smoothing, metric formatting (the "tokensPerS 11825.7006" bug),
// the clone-into-wizard route and params, and the pyreft loading snippet.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { emaSmooth } from '../../renderer/src/lib/charts/smoothing.ts';
import {
  countText,
  finishText,
  formatCount,
  formatMetric,
  formatMetrics,
  rowsText,
} from '../../renderer/src/lib/format.ts';
import { pyreftSnippet } from '../../renderer/src/lib/pyreft-snippet.ts';
import type { RunDetail } from '../../renderer/src/lib/rpc/handlers.ts';
import {
  cloneNote,
  cloneRunHref,
  cloneRunIdFrom,
  runToTrainParams,
} from '../../renderer/src/lib/state/clone-run.ts';

test('emaSmooth: weight 0 is the identity, gaps stay gaps, the start is debiased', () => {
  assert.deepEqual(emaSmooth([1, 2, null, 3], 0), [1, 2, null, 3]);
  const s = emaSmooth([4, 4, null, 4], 0.9);
  for (const v of [s[0], s[1], s[3]]) assert.ok(Math.abs((v as number) - 4) < 1e-12, 'a constant stays put');
  assert.equal(s[2], null);
  const t = emaSmooth([0, 10], 0.5);
  assert.equal(t[0], 0);
  assert.ok(Math.abs((t[1] as number) - 20 / 3) < 1e-12); // (0.5·0 + 0.5·10)/(1−0.25)
});

test('metrics are shown with people names and sensible precision, never raw floats', () => {
  assert.deepEqual(formatMetric('tokensPerS', 11825.7006), { label: 'Tokens/s', text: '11,826' });
  assert.deepEqual(formatMetric('loss', 1.234567), { label: 'Loss', text: '1.235' });
  assert.deepEqual(formatMetric('lr', 0.0004), { label: 'Learning rate', text: '4.00e-4' });
  assert.deepEqual(formatMetric('step', 30), { label: 'Step', text: '30' });
  assert.deepEqual(formatMetric('someNewThing', 0.123456), { label: 'Some new thing', text: '0.1235' });
  const line = formatMetrics({ tokensPerS: 11825.7006, step: 30, loss: 2.5 });
  assert.equal(line, 'Step 30 · Loss 2.5 · Tokens/s 11,826');
  assert.doesNotMatch(line, /tokensPerS|11825\.7/);
});

test('row counts: one row, not "1 rows"; thousands grouped, not "20287 rows"', () => {
  assert.deepEqual([0, 1, 2, 1200, 20287].map(rowsText), [
    '0 rows',
    '1 row',
    '2 rows',
    '1,200 rows',
    '20,287 rows',
  ]);
  assert.equal(countText(1, 'training example'), '1 training example');
  assert.equal(countText(5072, 'step'), '5,072 steps');
  assert.equal(formatCount(1_234_567), '1,234,567');
});

test('clone into the wizard: one route, and the params that repeat the run', () => {
  assert.equal(cloneRunHref(12), '#/train/clone/12');
  assert.equal(cloneRunIdFrom(['clone', '12']), 12);
  assert.equal(cloneRunIdFrom(['12']), null);
  assert.equal(cloneRunIdFrom([]), null);
  const run = {
    id: 7,
    name: 'pirate',
    modelId: 2,
    datasetVersionId: 5,
    config: {
      datasetId: 3,
      evalDatasetVersionId: 6,
      intervention: 'direft',
      layers: [1, 3],
      positions: 'f2+l2',
      shareWeights: false,
      rank: 8,
      lr: 0.002,
      epochs: 2,
      maxSteps: 0,
      batchSize: 4,
      schedule: 'cosine',
      seed: 9,
      out: '/data/adapters/run-7',
      probe: { prompts: ['Hi?'], every: 10, maxNewTokens: 20 },
    },
  } as unknown as RunDetail;
  assert.deepEqual(runToTrainParams(run), {
    modelId: 2,
    datasetId: 3,
    datasetVersionId: 5,
    evalDatasetVersionId: 6,
    name: 'pirate (copy)',
    layers: '1;3',
    shareWeights: false,
    schedule: 'cosine',
    intervention: 'direft',
    positions: 'f2+l2',
    rank: 8,
    lr: 0.002,
    epochs: 2,
    maxSteps: 0,
    batchSize: 4,
    seed: 9,
    probe: { prompts: ['Hi?'], every: 10, maxNewTokens: 20 },
  });
  // A model or dataset removed since: the settings are still copied, the wizard asks for another.
  // Before, a removed model refused the whole copy ("its model or dataset is no longer in the
  // library", under "Could not start training"), and a removed dataset was dropped without a word.
  const noModel = runToTrainParams({ ...run, modelId: null });
  assert.equal(noModel.modelId, null);
  assert.equal(noModel.datasetId, 3);
  assert.equal(noModel.rank, 8);
  const noData = runToTrainParams({ ...run, datasetVersionId: null });
  assert.deepEqual(
    [noData.modelId, noData.datasetId, noData.datasetVersionId, noData.evalDatasetVersionId],
    [2, null, undefined, undefined],
    'a removed dataset takes its versions with it: no stale ids',
  );
  assert.equal(noData.intervention, 'direft');
  const copied = 'Settings copied from “pirate”.';
  assert.equal(cloneNote(run, runToTrainParams(run)), `${copied} Change what you like, then start.`);
  assert.equal(cloneNote(run, noModel), `${copied} Its model is no longer in the library: choose another.`);
  assert.equal(cloneNote(run, noData), `${copied} Its dataset is no longer in the library: choose another.`);
  assert.equal(
    cloneNote({ id: 7, name: null }, { ...noData, modelId: null }),
    'Settings copied from “Run 7”. Its model and dataset are no longer in the library: choose others.',
  );
  // Bug: a run named with 194 or more characters cloned to a name the wizard refused (over 200).
  const long = runToTrainParams({ ...run, name: 'x'.repeat(200) }).name ?? '';
  assert.equal(long.length, 200);
  assert.equal(long, `${'x'.repeat(193)} (copy)`);
});

test('why an answer ended, in words (the Playground showed "eos" as the engine says it)', () => {
  assert.equal(finishText('eos'), 'the model ended its answer');
  assert.equal(finishText('length'), 'hit the token limit');
  assert.equal(finishText('context'), "filled the model's context");
  assert.equal(finishText('stop'), 'reached a stop text');
  assert.equal(finishText('stopped'), 'stopped');
  assert.equal(finishText(null), '');
});

test('pyreft snippet: the adapter’s own positions, tied or untied', () => {
  const untied = pyreftSnippet({
    exportDir: '/x/out',
    baseModel: '/models/llama',
    positions: 'f1+l1',
    interventions: 4,
    shareWeights: false,
    promptTemplate: 'chat',
  });
  assert.match(untied, /pyreft\.ReftModel\.load\("\/x\/out", model\)/);
  assert.match(
    untied,
    /locations = \[\[list\(range\(f\)\)\]\] \* 2 \+ \[\[list\(range\(L - l, L\)\)\]\] \* 2/,
  );
  assert.match(untied, /apply_chat_template/);
  const tied = pyreftSnippet({
    exportDir: 'out',
    baseModel: 'm',
    positions: 'l1',
    interventions: 3,
    shareWeights: true,
    promptTemplate: null,
  });
  assert.match(tied, /f, l = min\(0, L \/\/ 2\), min\(1, L \/\/ 2\)/);
  assert.match(tied, /locations = \[\[list\(range\(f\)\) \+ list\(range\(L - l, L\)\)\]\] \* 3/);
  assert.match(tied, /^prompt = question$/m);
  assert.match(tied, /^inputs = tokenizer\(prompt, return_tensors="pt"\)\.to\(model\.device\)$/m);
});

test('pyreft snippet: a Phi-3 base gets pyvene its block_output before ReftModel.load', () => {
  // pyvene maps no Phi-3 class: ReftModel.load would fail (KeyError in get_dimension_by_component).
  const input = {
    exportDir: 'out',
    baseModel: 'microsoft/Phi-3.5-mini-instruct',
    positions: 'l1',
    interventions: 1,
    shareWeights: true,
    promptTemplate: null,
  };
  const phi3 = pyreftSnippet({ ...input, arch: 'phi3' });
  const register =
    'pyvene.type_to_module_mapping.setdefault(type(model), {"block_output": ("model.layers[%s]", "register_forward_hook")})';
  assert.ok(phi3.includes(register));
  assert.ok(
    phi3.includes(
      'pyvene.type_to_dimension_mapping.setdefault(type(model), {"block_output": ("hidden_size",)})',
    ),
  );
  assert.ok(phi3.indexOf(register) < phi3.indexOf('pyreft.ReftModel.load('));
  assert.ok(!pyreftSnippet({ ...input, arch: 'llama' }).includes('pyvene'));
});

test('pyreft snippet: a chat prompt is tokenized as the studio reads it, one start token', () => {
  // Bug: the snippet tokenized the rendered chat template with the tokenizer's special tokens, so a
  // template that writes its own start token (Llama's, Mistral's) got two: in pyreft the adapter read
  // another prompt than in the studio, its positions shifted by one.
  const tok = loadTokenizer(fileURLToPath(new URL('../fixtures/golden/models/llama', import.meta.url)));
  const messages = [{ role: 'user', content: 'Who are you?' }];
  const rendered = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
  const studio = tok.encodeChat(messages, { addGenerationPrompt: true });
  const bos = studio[0];
  assert.equal(studio.filter((id) => id === bos).length, 1, 'the studio reads one start token');
  assert.notDeepEqual(tok.encode(rendered), studio, 'with special tokens added, the start token doubles');
  assert.deepEqual(tok.encode(rendered, { addSpecialTokens: false }), studio);
  const snippet = pyreftSnippet({
    exportDir: 'out',
    baseModel: 'm',
    positions: 'l1',
    interventions: 1,
    shareWeights: true,
    promptTemplate: 'chat',
  });
  assert.match(snippet, /^inputs = tokenizer\(prompt, return_tensors="pt", add_special_tokens=False\)/m);
});

test('run configuration for people: grouped, labelled, unknown keys kept, differences found', async () => {
  const { compareConfigs, configRows } = await import('../../electron/backend/library/run-config.ts');
  const groups = configRows({ lr: 0.004, layers: [1, 2], maxGradNorm: 0, runId: '3', brandNew: 5 });
  const flat = Object.fromEntries(groups.flatMap((g) => g.rows.map((r) => [r.field.label, r.text])));
  assert.deepEqual(flat, {
    Layers: '1;2',
    'Learning rate': '0.004',
    'Gradient clipping': 'no clipping',
    brandNew: '5',
  });
  // A 0 that means something says what (options.ts `zero`, the wizard's words); Max steps 0 names the
  // epochs that decide instead (it read "Max steps 0" in the wizard's review).
  const zeros = configRows({ epochs: 3, maxSteps: 0, evalEvery: 0, checkpointEvery: 0, keepCheckpoints: 0 });
  assert.deepEqual(Object.fromEntries(zeros.flatMap((g) => g.rows.map((r) => [r.field.key, r.text]))), {
    evalEvery: 'at the end of each epoch',
    epochs: '3',
    maxSteps: 'no limit: 3 epochs',
    checkpointEvery: 'only at the end',
    keepCheckpoints: 'all',
  });
  const { optionText } = await import('../../electron/backend/library/run-config.ts');
  assert.equal(optionText('maxSteps', 0, { epochs: 1 }), 'no limit: 1 epoch');
  assert.equal(optionText('maxSteps', 40, { epochs: 1 }), '40 steps');
  assert.equal(optionText('maxSteps', 1, { epochs: 1 }), '1 step', 'a count agrees with its noun');
  assert.equal(optionText('checkpointEvery', 1, {}), 'every 1 step');
  assert.equal(optionText('maxLength', 512, {}), '512 tokens');
  // The training data by the library's name when given (the stored path is the frozen file's hash).
  const data = { data: '/lib/datasets/0e215d0c.jsonl', lr: 0.004 };
  assert.equal(configRows(data)[0].rows[0].text, '0e215d0c.jsonl');
  assert.equal(configRows(data, 'persona v2')[0].rows[0].text, 'persona v2');
  // The device asked for, and where the run really ran when that differs (a fallback, auto's choice).
  const device = (ranOn?: string) =>
    configRows({ device: 'cuda' }, undefined, ranOn)[0].rows.find((r) => r.field.key === 'device')?.text;
  assert.deepEqual([device(), device('cuda'), device('cpu')], ['cuda', 'cuda', 'cuda (ran on cpu)']);
  // The same for the precision: auto's choice, and none for a run that never recorded it.
  const dtype = (config: Record<string, unknown>, ranIn?: string) =>
    configRows(config, undefined, undefined, ranIn)[0].rows.find((r) => r.field.key === 'dtype')?.text;
  assert.deepEqual(
    [dtype({ dtype: 'auto' }), dtype({ dtype: 'auto' }, 'fp32'), dtype({ dtype: 'fp16' }, 'fp16')],
    ['auto', 'auto (ran in fp32)', 'fp16'],
  );
  const { precisionText } = await import('../../native-runtime/runtime/precision-used.ts');
  assert.deepEqual(
    [
      precisionText('auto', 'bf16'),
      precisionText('fp16', 'fp32'),
      precisionText('fp32', 'fp32'),
      precisionText('auto', null),
    ],
    ['bf16', 'fp32 (asked fp16)', 'fp32', null],
  );
  // The base weights' form and the precision asked for, labelled as the wizard labels them (every
  // run stores both; they were listed under "Other" by their keys).
  assert.deepEqual(
    configRows({ device: 'cuda', quantize: 'int8', dtype: 'fp16' }).map((g) => [
      g.title,
      g.rows.map((r) => `${r.field.label}: ${r.text}`),
    ]),
    [['Run', ['Device: cuda', 'Base weights: int8', 'Precision: fp16']]],
  );
  // Two runs asking auto that computed in bf16 and fp32 differ in Compare; a run without a record
  // shows its ask alone.
  const ranIn = compareConfigs(
    [{ dtype: 'auto' }, { dtype: 'auto' }, { dtype: 'auto' }],
    [{ precision: 'bf16' }, { precision: 'fp32' }, { precision: null }],
  );
  assert.deepEqual(ranIn, [
    {
      field: ranIn[0].field,
      texts: ['auto (ran in bf16)', 'auto (ran in fp32)', 'auto'],
      differs: true,
    },
  ]);
  const rows = compareConfigs([
    { lr: 0.004, rank: 4 },
    { lr: 0.002, rank: 4 },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.field.key, r.differs]),
    [
      ['rank', false],
      ['lr', true],
    ],
  );
  // Each run's own folders always disagree: no difference in how the runs were trained, so Compare's
  // "Only differences" leaves them out (it listed them for every pair of runs); the full table keeps them.
  const own = compareConfigs([
    { rank: 4, out: '/lib/adapters/7', checkpointDir: '/lib/checkpoints/7' },
    { rank: 4, out: '/lib/adapters/8', checkpointDir: '/lib/checkpoints/8' },
  ]);
  assert.deepEqual(
    own.map((r) => [r.field.key, r.texts[1], r.differs]),
    [
      ['rank', '4', false],
      ['out', '/lib/adapters/8', false],
      ['checkpointDir', '/lib/checkpoints/8', false],
    ],
  );
});
