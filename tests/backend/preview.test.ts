// The Train wizard's questions answered by the training code: 'runs/check' (the model's shape and the
// options' problems with it) and 'runs/preview' (one example as training sees it). The preview is
// compared with the batch the trainer builds for the same example, so the two cannot disagree.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { type Engine, WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import type { RunCheck, RunPreview } from '../../electron/backend/library/run-preview.ts';
import { openModelFolder } from '../../native-runtime/models/model-folder.ts';
import { readDataset, specialIds, tokenizeExample } from '../../native-runtime/training/data.ts';
import { isUntied, parsePositions, planInterventions } from '../../native-runtime/training/positions.ts';
import { buildBatch } from '../../native-runtime/training/trainer.ts';
import { modelSplittingOn } from '../helpers/models.ts';
import { LLAMA_FIXTURE, tempDir } from './helpers.ts';

// Engine processes started by this file stop a tokenization after 3 s instead of 30.
process.env.REFT_STUDIO_TOKENIZE_DEADLINE_MS = '3000';

const root = tempDir('preview');
let b: Backend;
let modelId: number;
let datasetId: number;
let nextId = 1;
const file = join(root, 'rows.jsonl');
const rows = [
  { prompt: 'What is two plus two, my friend?', completion: 'Four, matey.' },
  { prompt: 'Hi', completion: 'Ahoy!' },
];

async function reply(method: string, params: unknown) {
  return b.handle({ type: 'request', id: nextId++, method, params });
}
// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function call<T = any>(method: string, params: unknown = {}): Promise<T> {
  const r = await reply(method, params);
  if (r.type !== 'reply') throw Object.assign(new Error(`${method}: ${r.error.message}`), r.error);
  return r.result as T;
}

/** The engine operations the backend asked for, in order: the real engine processes, counted. */
const engineCalls: string[] = [];

before(async () => {
  const worker = new WorkerEngine({ dataDir: join(root, 'data') });
  const engine: Engine = {
    call: ((op, args, opts) => {
      engineCalls.push(op);
      return worker.call(op, args, opts);
    }) as Engine['call'],
    refresh: () => worker.refresh(),
    close: () => worker.close(),
    killNow: () => worker.killNow(),
  };
  b = createBackend(join(root, 'data'), { seedDemo: false, engine });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

test('runs/check: the model shape and the same problems the trainer refuses with', async () => {
  const ok = await call<RunCheck>('runs/check', { modelId, options: { rank: 8, layers: '1;3' } });
  assert.deepEqual(ok, { model: { numLayers: 4, hiddenSize: 64, maxPositions: 256 }, issues: [] });
  const bad = await call<RunCheck>('runs/check', {
    modelId,
    options: { rank: 65, layers: '4', maxLength: 300, dropout: 2 },
  });
  assert.deepEqual(
    bad.issues.map((i) => [i.field, i.code]),
    [
      ['dropout', 'bad-dropout'],
      ['rank', 'bad-rank'],
      ['maxLength', 'bad-max-length'],
      ['layers', 'layer-out-of-range'],
    ],
  );
  assert.equal(bad.issues[1]?.message, "Rank must be at most the model's hidden size, 64 (got 65)");
});

test('runs/preview: the tokens after the chat template, the loss tokens, and each intervention’s positions', async () => {
  const params = { modelId, datasetId, layers: '1;2', positions: 'f2+l3', shareWeights: false };
  const p = await call<RunPreview>('runs/preview', { ...params, example: 0 });
  assert.equal(p.exampleCount, 2);
  assert.equal(p.index, 0);
  assert.equal(p.numLayers, 4);
  assert.equal(p.chatTemplate, true, 'the fixture has a chat template');

  // Exactly the trainer's tokenization: the same ids, prompt length and loss labels.
  const folder = openModelFolder(LLAMA_FIXTURE);
  const tok = folder.tokenizer;
  assert.ok(tok);
  const { eosId, padId } = specialIds(tok, folder.spec);
  const ds = readDataset(file);
  const t = tokenizeExample(tok, ds.examples[0], { maxLength: 256, chatTemplate: 'auto', eosId });
  assert.deepEqual(
    p.tokens.map((x) => x.id),
    t.ids,
  );
  assert.equal(p.promptLen, t.promptLen);
  const text = p.tokens.map((x) => x.text).join('');
  assert.ok(text.includes(rows[0].prompt), text);
  // The loss is on the completion (and the end-of-sequence token), nowhere else.
  const loss = p.tokens.filter((x) => x.loss);
  assert.equal(
    p.tokens.findIndex((x) => x.loss),
    p.promptLen,
  );
  assert.equal(
    tok.decode(
      loss.map((x) => x.id),
      { skipSpecialTokens: true },
    ),
    rows[0].completion,
  );
  assert.equal(loss.at(-1)?.id, eosId);

  // Untied f2+l3 on two layers: the prefix interventions first, then the suffix ones.
  assert.equal(p.untied, true);
  assert.deepEqual(
    p.interventions.map((iv) => [iv.layer, iv.role]),
    [
      [1, 'prefix'],
      [2, 'prefix'],
      [1, 'suffix'],
      [2, 'suffix'],
    ],
  );
  const L = p.promptLen;
  assert.deepEqual(p.interventions[0]?.positions, [0, 1]);
  assert.deepEqual(p.interventions[2]?.positions, [L - 3, L - 2, L - 1]);
  // pyreft pads the shorter list to the longer one's length.
  assert.equal(p.interventions[0]?.padding, 1);
  assert.equal(p.interventions[2]?.padding, 0);

  // The batch the trainer builds for this example reads and writes the very same positions.
  const pos = parsePositions('f2+l3', 256);
  const planned = planInterventions([1, 2], pos, false);
  const { batch } = buildBatch([t], pos, isUntied(pos, false), planned.length, padId);
  batch.locations.forEach((l, j) => {
    const fromBatch = [...l.data].map(Number).filter((x) => x >= 0);
    assert.deepEqual(fromBatch, p.interventions[j]?.positions, `intervention ${j}`);
  });
});

test("runs/preview with probe prompts: one call to the 'tokens' process, which checks them too", async () => {
  // The probe prompts' check and the example were two round trips to the same process.
  const params = { modelId, datasetId, layers: '1', positions: 'f1+l1', example: 0 };
  const plain = await call<RunPreview>('runs/preview', params);
  engineCalls.length = 0;
  const probed = await call<RunPreview>('runs/preview', {
    ...params,
    probe: { prompts: ['Ahoy?'], every: 1 },
  });
  assert.deepEqual(engineCalls, ['previewTokens']);
  assert.deepEqual(probed, plain, 'the same example');
  const long = 'one two three four five six seven eight nine ten '.repeat(60);
  const refused = await reply('runs/preview', { ...params, probe: { prompts: ['Ahoy?', long], every: 1 } });
  assert.equal(refused.type === 'error' && refused.error.field, 'probe.prompts.1', JSON.stringify(refused));
});

test('runs/preview: clipping at half the prompt, tied weights, padding', async () => {
  // Example 1 ("Hi") through no chat template: a prompt of very few tokens.
  const base = { modelId, datasetId, layers: '0', chatTemplate: 'none' as const, example: 1 };
  const tied = await call<RunPreview>('runs/preview', { ...base, positions: 'f5+l5', shareWeights: true });
  const half = Math.floor(tied.promptLen / 2);
  assert.deepEqual(tied.used, { first: Math.min(half, 5), last: Math.min(half, 5) });
  assert.equal(tied.untied, false);
  assert.equal(tied.interventions.length, 1);
  assert.equal(tied.interventions[0]?.role, 'all');
  assert.equal(tied.interventions[0]?.padding, 10 - tied.used.first - tied.used.last);

  const one = await call<RunPreview>('runs/preview', { ...base, positions: 'l2' });
  assert.equal(one.chatTemplate, false);
  const L = one.promptLen;
  const lastN = Math.min(Math.floor(L / 2), 2);
  assert.deepEqual(
    one.interventions[0]?.positions,
    Array.from({ length: lastN }, (_, i) => L - lastN + i),
  );
  assert.equal(one.interventions[0]?.padding, 2 - lastN);
});

test('runs/preview refuses a bad option as runs/start does, and a missing example by its number', async () => {
  const r = await reply('runs/preview', { modelId, datasetId, rank: 65 });
  assert.equal(r.type, 'error');
  assert.equal(r.type === 'error' && r.error.code, 'bad-rank');
  const e = await reply('runs/preview', { modelId, datasetId, example: 9 });
  assert.equal(e.type === 'error' && e.error.message, 'example 10 does not exist: the dataset version has 2');
});

test('runs/preview reads only the example it shows, never the whole version', async () => {
  const many = join(root, 'many.jsonl');
  writeFileSync(
    many,
    rows
      .concat(rows, rows)
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const ds = (await call('datasets/import', { path: many })).dataset;
  const filePath: string = ds.latest.filePath;
  // Row 3 damaged in place (same length): the version read whole failed on it for every example.
  const lines = readFileSync(filePath, 'utf8').split('\n');
  lines[3] = '#'.repeat(lines[3].length);
  writeFileSync(filePath, lines.join('\n'));
  const params = { modelId, datasetId: ds.id };
  const p = await call<RunPreview>('runs/preview', { ...params, example: 5 });
  assert.equal(p.exampleCount, 6);
  assert.equal(p.line, 6);
  const first = await call<RunPreview>('runs/preview', { ...params, example: 1 });
  assert.equal(first.tokens.at(-2)?.text.trim(), '!', "row 1's completion, Ahoy!");
  const damaged = await reply('runs/preview', { ...params, example: 3 });
  assert.equal(
    damaged.type === 'error' && damaged.error.message,
    `dataset file datasets/${ds.latest.contentHash}.jsonl in the data folder: row 3 is not JSON (the file is damaged)`,
  );
});

test("a model whose chat template never ends: the preview is refused and the backend's loop stays free", async () => {
  // A template from the Hub with nested loops held the backend's loop (the one serving every window)
  // for hours before renders had a budget (template-budget.ts); the preview now also runs in the
  // engine's 'tokens' process.
  const model = join(root, 'endless-template');
  mkdirSync(model);
  for (const f of readdirSync(LLAMA_FIXTURE))
    if (f !== 'chat_template.jinja') symlinkSync(join(LLAMA_FIXTURE, f), join(model, f));
  writeFileSync(
    join(model, 'chat_template.jinja'),
    '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ messages[0].content }}',
  );
  const hostile = (await call('models/add', { path: model, name: 'endless' })).id;
  const chat = join(root, 'chat.jsonl');
  writeFileSync(
    chat,
    `${JSON.stringify({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yo' },
      ],
    })}\n`,
  );
  const chatId = (await call('datasets/import', { path: chat })).dataset.id;
  const started = Date.now();
  const r = await reply('runs/preview', { modelId: hostile, datasetId: chatId });
  assert.equal(r.type === 'error' && r.error.code, 'chat-template-too-costly', JSON.stringify(r));
  assert.match(
    r.type === 'error' ? r.error.message : '',
    /^chat_template\.jinja: the chat template was stopped: it ran more than 500,000 steps/,
  );
  assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
  assert.equal((await reply('system/info', {})).type, 'reply', 'the backend answers the next request');
});

test("a tokenizer whose pattern backtracks without end: the preview fails in its deadline, the backend's loop stays free", async () => {
  // (?:a|a)*$ tries 2^n ways on n a's not followed by the end: hours on this prompt. Tokenizing
  // it on the backend's loop froze every window; the 'tokens' process is killed at the deadline.
  const model = modelSplittingOn(root, 'backtracking-split', '(?:a|a)*$');
  const hostile = (await call('models/add', { path: model, name: 'backtracking' })).id;
  const evil = join(root, 'evil.jsonl');
  writeFileSync(evil, `${JSON.stringify({ prompt: `${'a'.repeat(40)}!`, completion: 'b' })}\n`);
  const evilId = (await call('datasets/import', { path: evil })).dataset.id;
  const started = Date.now();
  const pending = reply('runs/preview', { modelId: hostile, datasetId: evilId });
  // Meanwhile the backend answers.
  const during = Date.now();
  assert.equal((await reply('system/info', {})).type, 'reply');
  assert.ok(Date.now() - during < 2000, `system/info took ${Date.now() - during} ms`);
  const r = await pending;
  assert.equal(r.type === 'error' && r.error.code, 'tokenizer-too-slow', JSON.stringify(r));
  assert.equal(
    r.type === 'error' && r.error.message,
    // (A path in the temporary folder is shown by its name: rpc/user-errors.ts.)
    'the temporary file tokenizer.json: tokenizing one text took over 3 s, so the engine process was ' +
      'stopped: a pattern in this tokenizer backtracks without end on some texts',
  );
  assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
  // Token counts run in that process too: the same deadline, the same line.
  const counts = await reply('datasets/token-lengths', { datasetId: evilId, modelId: hostile });
  assert.equal(counts.type === 'error' && counts.error.code, 'tokenizer-too-slow', JSON.stringify(counts));
  // The probe prompts are tokenized there too, and a new process takes the next request.
  const probed = await reply('runs/start', {
    modelId: hostile,
    datasetId,
    probe: { prompts: [`${'a'.repeat(40)}!`], every: 1 },
  });
  assert.equal(probed.type === 'error' && probed.error.code, 'tokenizer-too-slow', JSON.stringify(probed));
  assert.equal((await call('runs/list', {})).length, 0, 'no run recorded');
  const ok = await call<RunPreview>('runs/preview', { modelId, datasetId });
  assert.ok(ok.tokens.length > 0);
});

test('a tokenizer that repeats a repetition, like (a+)+, is refused when it loads, naming the file', async () => {
  const model = modelSplittingOn(root, 'nested-quantifier', '(a+)+$');
  const r = await reply('models/add', { path: model, name: 'nested' });
  const added = r.type === 'reply' ? (r.result as { id: number }).id : null;
  const refused = added ? await reply('runs/preview', { modelId: added, datasetId }) : r;
  assert.equal(
    refused.type === 'error' && refused.error.code,
    'tokenizer-pattern-refused',
    JSON.stringify(refused),
  );
  assert.match(
    refused.type === 'error' ? refused.error.message : '',
    /^the temporary file tokenizer\.json: the pattern of pre_tokenizer\.pretokenizers\[0\] repeats a group that itself repeats/,
  );
});
