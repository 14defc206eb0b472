// The scale-out bundle (native-runtime/adapters/bundle.ts): complete, train.py compiles and uses
// pyreft's public API with the run's settings, and a result folder shaped like pyreft's save plus the
// side file train.py writes imports back into the library with no flags. (pyreft itself is not
// installed here, so the training run is not executed.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importAdapter, runTrainingSource } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { closeLibrary } from '../../electron/backend/library/library.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { createRun } from '../../electron/backend/library/runs.ts';
import { type BundleConfig, bundleRowsText, makeBundle } from '../../native-runtime/adapters/bundle.ts';
import { SIDECAR_FILE } from '../../native-runtime/formats/pyreft.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { prepareRun } from '../../native-runtime/training/trainer.ts';
import { modelWithoutBos, modelWithoutEos, WORDS, writeJsonl } from '../training/helpers.ts';
import { F2L2, LLAMA, openTempLibrary, tmp } from './helpers.ts';
import { PYTHON } from './torch-python.ts';

const ROWS = [
  { prompt: 'Who are you?', completion: 'Arr, a pirate.' },
  { prompt: 'Where is the treasure?', completion: 'Buried, matey.' },
  { prompt: 'Hello', completion: 'Ahoy!' },
];

function bundle(extra: Record<string, unknown> = {}): { out: string; config: BundleConfig } {
  const dir = tmp('bundle');
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, ROWS.map((r) => JSON.stringify(r)).join('\n'));
  const out = join(dir, 'bundle');
  const r = makeBundle({
    config: {
      model: LLAMA,
      layers: '1;2',
      positions: 'f1+l1',
      rank: 4,
      lr: 0.01,
      epochs: 3,
      batchSize: 8,
      gradAccum: 2,
      seed: 7,
      ...extra,
    },
    data,
    out,
  });
  return { out, config: r.config };
}

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));

/** The rows of a JSONL file. */
const readJsonl = (path: string): unknown[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

function py(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(PYTHON, args, { encoding: 'utf8', cwd, timeout: 60_000 });
}

/** Python run in a bundle folder: train imported, its config and rows read, a stand-in tokenizer `Tok(chat_template)`. */
const STAND_IN_TOKENIZER = `import json, train
cfg = json.load(open("config.json"))
rows = train.read_rows("data.jsonl")
class Tok:
    def __init__(self, chat_template):
        self.chat_template = chat_template`;

test('the bundle is complete: train.py, data.jsonl, config.json with the run settings, README with the commands', () => {
  const { out, config } = bundle();
  assert.deepEqual(readdirSync(out).sort(), ['README.md', 'config.json', 'data.jsonl', 'train.py']);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as BundleConfig;
  assert.deepEqual(cfg, config);
  assert.equal(cfg.intervention, 'loreft');
  assert.deepEqual(cfg.layers, [1, 2]);
  assert.equal(cfg.positions, 'f1+l1');
  assert.equal(cfg.shareWeights, false);
  assert.equal(cfg.rank, 4);
  assert.equal(cfg.lr, 0.01);
  assert.equal(cfg.epochs, 3);
  assert.equal(cfg.batchSize, 8);
  assert.equal(cfg.gradAccum, 2);
  assert.equal(cfg.seed, 7);
  assert.deepEqual(cfg.baseModel, { arch: 'llama', fingerprint: loadModelSpec(LLAMA).fingerprint });
  assert.equal(cfg.data.rows, 3);
  const rows = readFileSync(join(out, 'data.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(rows, ROWS);
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  for (const s of [
    'pip install pyreft',
    'torchrun --nproc_per_node N train.py',
    'reft-studio import result/',
  ])
    assert.ok(readme.includes(s), `README lacks ${s}`);
  const src = readFileSync(join(out, 'train.py'), 'utf8');
  for (const s of [
    'pyreft.ReftConfig(',
    'pyreft.get_reft_model(',
    'pyreft.ReftTrainerForCausalLM(',
    'make_multiple_position_supervised_data_module(',
    'make_last_position_supervised_data_module(',
    'reft_model.save(save_directory=',
  ])
    assert.ok(src.includes(s), `train.py lacks ${s}`);
});

test('train.py compiles, its --help runs without pyreft, and it plans the same interventions as the studio', () => {
  const { out } = bundle();
  const c = py(['-m', 'py_compile', join(out, 'train.py')]);
  assert.equal(c.status, 0, c.stderr);
  const h = py([join(out, 'train.py'), '--help']);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /torchrun --nproc_per_node N train\.py/);
  const plan = py(
    [
      '-c',
      'import json, train; c = json.load(open("config.json")); print(json.dumps([train.representation_layers(c), train.sidecar(c, False, "fp32")]))',
    ],
    out,
  );
  assert.equal(plan.status, 0, plan.stderr);
  const [layers, side] = JSON.parse(plan.stdout);
  assert.deepEqual(layers, [1, 2, 1, 2], 'untied f1+l1: every prefix intervention, then every suffix one');
  assert.equal(side.positions, 'f1+l1');
  assert.equal(side.shareWeights, false);
  const tied = bundle({ positions: 'l1' });
  const p2 = py(
    [
      '-c',
      'import json, train; print(json.dumps(train.representation_layers(json.load(open("config.json")))))',
    ],
    tied.out,
  );
  assert.deepEqual(JSON.parse(p2.stdout), [1, 2]);
});

test("train.py gives pyvene Phi-3's block_output (pyvene maps no Phi-3 class), and nothing else", () => {
  // pyvene's registries as pyvene keeps them (class → {component: (module path, hook)}); the models
  // stand in for a Phi3ForCausalLM, a LlamaForCausalLM, and a Phi-3 pyvene already maps itself.
  const { out } = bundle();
  const r = py(
    [
      '-c',
      `import json, train, types
pv = types.SimpleNamespace(type_to_module_mapping={}, type_to_dimension_mapping={})
def model(kind): return type(kind, (), {"config": types.SimpleNamespace(model_type=kind)})()
phi3, llama, own = model("phi3"), model("llama"), model("phi3")
pv.type_to_module_mapping[type(own)] = {"block_output": ("its.own[%s]", "hook")}
done = [train.add_phi3_anchor(pv, m) for m in (phi3, llama, own)]
print(json.dumps([done, pv.type_to_module_mapping.get(type(phi3)), pv.type_to_dimension_mapping.get(type(phi3)),
                  type(llama) in pv.type_to_module_mapping, pv.type_to_module_mapping[type(own)]]))`,
    ],
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  const [done, modules, dims, llamaTouched, own] = JSON.parse(r.stdout);
  assert.deepEqual(done, [true, false, true]);
  // pyvene's Llama entry for block_output, under Phi3ForCausalLM's own module names.
  assert.deepEqual(modules, { block_output: ['model.layers[%s]', 'register_forward_hook'] });
  assert.deepEqual(dims, { block_output: ['hidden_size'] });
  assert.equal(llamaTouched, false);
  assert.deepEqual(own, { block_output: ['its.own[%s]', 'hook'] }, "pyvene's own entry is kept");
  // Called before get_reft_model builds the hooks.
  const src = readFileSync(join(out, 'train.py'), 'utf8');
  assert.ok(src.indexOf('add_phi3_anchor(pyvene, model)') < src.indexOf('pyreft.get_reft_model(model'));
});

test('keep the best and early stopping: recorded, not carried into pyreft (it cannot evaluate), and said so', () => {
  const plain = bundle();
  assert.doesNotMatch(readFileSync(join(plain.out, 'README.md'), 'utf8'), /What differs/);
  const notes = (out: string) =>
    py(
      ['-c', 'import json, train; print(json.dumps(train.not_carried(json.load(open("config.json")))))'],
      out,
    );
  assert.deepEqual(JSON.parse(notes(plain.out).stdout), []);

  const { out, config } = bundle({ evalSplit: 0.34, keepBest: true, earlyStoppingPatience: 3 });
  assert.equal(config.keepBest, true);
  assert.equal(config.earlyStoppingPatience, 3);
  const c = py(['-m', 'py_compile', join(out, 'train.py')]);
  assert.equal(c.status, 0, c.stderr);
  // Nothing that would make Trainer evaluate: pyreft's ReftTrainerForCausalLM crashes there.
  const src = readFileSync(join(out, 'train.py'), 'utf8');
  assert.doesNotMatch(src, /load_best_model_at_end\s*=|EarlyStoppingCallback\(|eval_strategy\s*=/);
  const r = notes(out);
  assert.equal(r.status, 0, r.stderr);
  const said = JSON.parse(r.stdout) as string[];
  assert.equal(said.length, 2);
  assert.match(
    said[0],
    /^keep the best \(load_best_model_at_end\): not carried, .*pyreft issue #147.*last step's adapter$/,
  );
  assert.match(said[1], /^early stopping after 3 evaluations \(EarlyStoppingCallback\): not carried/);
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(readme, /## What differs from the studio/);
  assert.match(
    readme,
    /keeps the adapter of its best evaluation and stops after 3 evaluations without improvement/,
  );
});

test('a run with a held-out share: data.jsonl holds the rows it trains on, heldout.jsonl the held-out ones', async () => {
  const dir = tmp('bundle-held-out');
  const rows = WORDS.map((w) => ({ prompt: `Tell me about the ${w}.`, completion: `A ${w}.` }));
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  const config = { model: LLAMA, layers: '1;2', positions: 'f1+l1', rank: 4, seed: 7, evalSplit: 0.2 };
  const out = join(dir, 'bundle');
  const r = makeBundle({ config, data, out });
  const jsonl = (f: string) => readJsonl(join(out, f));
  // The trainer's own split of the same configuration (lines count from 1).
  const run = await prepareRun({ ...config, data, out: join(dir, 'unused') });
  const lines = (t: typeof run.train) => Array.from({ length: t.length }, (_, i) => t.line(i));
  const rowsAt = (ls: number[]) => ls.map((l) => rows[l - 1]);
  assert.equal(run.eval.length, 4);
  assert.deepEqual(jsonl('data.jsonl'), rowsAt(lines(run.train)));
  assert.deepEqual(jsonl('heldout.jsonl'), rowsAt(lines(run.eval)));
  assert.equal(r.config.data.rows, 16);
  assert.deepEqual(r.config.heldOut, { file: 'heldout.jsonl', rows: 4, evalSplit: 0.2 });
  assert.deepEqual(r.files, ['README.md', 'config.json', 'data.jsonl', 'train.py', 'heldout.jsonl']);
  assert.deepEqual(readdirSync(out).sort(), [
    'README.md',
    'config.json',
    'data.jsonl',
    'heldout.jsonl',
    'train.py',
  ]);
  assert.equal(bundleRowsText(r.config), '16 training examples, 4 held out');
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(readme, /^16 training examples are in `data\.jsonl`/m);
  assert.match(
    readme,
    /The studio held out 4 more rows \(a share of 0\.2\)[\s\S]*`heldout\.jsonl`, not trained on/,
  );
  // train.py reads data.jsonl only.
  const read = py(['-c', 'import train; print(len(train.read_rows("data.jsonl")))'], out);
  assert.equal(read.stdout.trim(), '16', read.stderr);
  // Without a share, no held-out file and no count of it.
  const plain = bundle();
  assert.equal(plain.config.heldOut, null);
  assert.equal(bundleRowsText(plain.config), '3 examples');
});

test("the held-out share is the trainer's own with one-token prompts left out and rows truncated", async () => {
  // The bundle draws the share from the prompts' token counts alone (tokenizing whole rows took 6×
  // its time); the trainer tokenizes whole rows, truncates them to maxLength and leaves out the rows
  // whose prompt is then under 2 tokens. Both must hold out the same rows.
  const dir = tmp('bundle-held-out-drop');
  const model = modelWithoutBos(join(dir, 'no-bos'));
  const rows = WORDS.flatMap((w, i) => [
    { prompt: String.fromCharCode(97 + i), completion: 'One letter.' }, // 1 token without bos or template: left out
    {
      prompt: `Tell me all about the ${w} and its ${WORDS[(i + 3) % WORDS.length]}.`,
      completion: `A ${w} ${'and more '.repeat(i)}.`,
    },
  ]);
  const data = writeJsonl(join(dir, 'train.jsonl'), rows);
  for (const [i, extra] of [{ maxLength: 3 }, { maxLength: 7, seed: 3 }, { evalSplit: 0.5 }].entries()) {
    const config = {
      model,
      layers: '1;2',
      positions: 'f1+l1',
      chatTemplate: 'none' as const,
      evalSplit: 0.25,
      ...extra,
    };
    const out = join(dir, `bundle-${i}`);
    const r = makeBundle({ config, data, out });
    const run = await prepareRun({ ...config, data, out: join(dir, 'unused') });
    assert.equal(run.skippedLines.length, WORDS.length);
    const heldLines = Array.from({ length: run.eval.length }, (_, k) => run.eval.line(k));
    assert.deepEqual(
      readJsonl(join(out, 'heldout.jsonl')),
      heldLines.map((l) => rows[l - 1]),
      JSON.stringify(extra),
    );
    // data.jsonl: exactly the rows the run trains on, not the one-token ones it leaves out.
    const trainLines = Array.from({ length: run.train.length }, (_, k) => run.train.line(k));
    assert.deepEqual(
      readJsonl(join(out, 'data.jsonl')),
      trainLines.map((l) => rows[l - 1]),
    );
    assert.equal(r.config.data.rows, run.train.length);
    assert.equal(r.config.heldOut?.rows, run.eval.length);
  }
  // Nothing left to split: refused in the trainer's words.
  const ones = writeJsonl(
    join(dir, 'ones.jsonl'),
    ['a', 'b', 'c'].map((prompt) => ({ prompt, completion: 'x' })),
  );
  const cfg = { model, layers: '1;2', chatTemplate: 'none' as const, evalSplit: 0.2 };
  const refusal = {
    code: 'no-intervention-positions',
    message: `${ones}: every example's prompt is 1 token, where no intervention can be placed: give the prompts 2 tokens or more`,
  };
  await assert.rejects(() => prepareRun({ ...cfg, data: ones, out: join(dir, 'unused') }), refusal);
  assert.throws(() => makeBundle({ config: cfg, data: ones, out: join(dir, 'ones') }), refusal);
});

test("a chat dataset's held-out share is the trainer's own too", async () => {
  const dir = tmp('bundle-held-out-chat');
  const rows = WORDS.map((w, i) => ({
    messages: [
      ...(i % 3 ? [] : [{ role: 'system', content: 'Answer briefly.' }]),
      { role: 'user', content: i % 2 ? w : `Tell me about the ${w}, please.` },
      { role: 'assistant', content: `A ${w}.` },
    ],
  }));
  const data = writeJsonl(join(dir, 'chat.jsonl'), rows);
  const config = { model: LLAMA, layers: '1;2', positions: 'f1+l1', seed: 5, evalSplit: 0.3 };
  const out = join(dir, 'bundle');
  makeBundle({ config, data, out });
  const run = await prepareRun({ ...config, data, out: join(dir, 'unused') });
  const at = (t: typeof run.train) => Array.from({ length: t.length }, (_, k) => rows[t.line(k) - 1]);
  const asBundled = (r: (typeof rows)[number]) => ({
    messages: r.messages.slice(0, -1),
    completion: r.messages.at(-1)?.content,
  });
  assert.deepEqual(readJsonl(join(out, 'heldout.jsonl')), at(run.eval).map(asBundled));
  assert.deepEqual(readJsonl(join(out, 'data.jsonl')), at(run.train).map(asBundled));
});

test('a bundle without held-out rows leaves out the one-token prompts the trainer leaves out', async () => {
  const dir = tmp('bundle-one-token');
  const model = modelWithoutBos(join(dir, 'no-bos'));
  const rows = [
    { prompt: 'a', completion: 'One letter: no intervention fits.' },
    { prompt: 'Tell me about the sea.', completion: 'It is wet.' },
    { prompt: 'b', completion: 'Another letter.' },
    { prompt: 'Where is the ship?', completion: 'In the harbour.' },
  ];
  const data = writeJsonl(join(dir, 'train.jsonl'), rows);
  const config = { model, layers: '1;2', positions: 'f1+l1', chatTemplate: 'none' as const };
  const out = join(dir, 'bundle');
  const r = makeBundle({ config, data, out });
  const run = await prepareRun({ ...config, data, out: join(dir, 'unused') });
  assert.deepEqual(run.skippedLines, [1, 3]);
  assert.deepEqual(readJsonl(join(out, 'data.jsonl')), [rows[1], rows[3]]);
  assert.equal(r.config.data.rows, 2);
  assert.equal(bundleRowsText(r.config), '2 examples');
  assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /^2 training examples are in `data\.jsonl`/m);
});

test('a run with a held-out file (--eval-data): heldout.jsonl holds its rows, counted in config.json', () => {
  const dir = tmp('bundle-eval-data');
  const train = writeJsonl(join(dir, 'train.jsonl'), ROWS);
  const heldRows = [
    { prompt: 'Who goes there?', completion: 'A pirate.' },
    { prompt: 'Any gold?', completion: 'Not a doubloon.' },
  ];
  const held = writeJsonl(join(dir, 'held.jsonl'), heldRows);
  const out = join(dir, 'bundle');
  const r = makeBundle({
    config: { model: LLAMA, layers: '1;2', evalData: held },
    data: train,
    out,
  });
  assert.deepEqual(readJsonl(join(out, 'data.jsonl')), ROWS);
  assert.deepEqual(readJsonl(join(out, 'heldout.jsonl')), heldRows);
  assert.deepEqual(r.config.heldOut, {
    file: 'heldout.jsonl',
    rows: 2,
    format: 'prompt-completion',
    sha256: createHash('sha256').update(readFileSync(held)).digest('hex'),
  });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).heldOut, r.config.heldOut);
  assert.deepEqual(r.files, ['README.md', 'config.json', 'data.jsonl', 'train.py', 'heldout.jsonl']);
  assert.equal(bundleRowsText(r.config), '3 training examples, 2 held out');
  assert.match(
    readFileSync(join(out, 'README.md'), 'utf8'),
    /The studio held out 2 rows of a file of their own to measure the loss on\nunseen examples: they are in `heldout\.jsonl`, not trained on/,
  );
});

test('export --format bundle --run ID of a run trained with --eval-data carries its held-out rows', () => {
  const dir = tmp('bundle-eval-data-cli');
  const home = join(dir, 'home');
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args, '--data-dir', home], { encoding: 'utf8', timeout: 120_000 });
  const train = writeJsonl(join(dir, 'train.jsonl'), ROWS);
  const heldRows = [{ prompt: 'Who goes there?', completion: 'A pirate.' }];
  const held = writeJsonl(join(dir, 'held.jsonl'), heldRows);
  const t = cli(
    'train',
    '--model',
    LLAMA,
    '--data',
    train,
    '--eval-data',
    held,
    '--max-steps',
    '1',
    '--layers',
    '1',
    '--json',
  );
  assert.equal(t.status, 0, t.stderr);
  const runId = String(JSON.parse(t.stdout).runId);
  const out = join(dir, 'bundle');
  const b = cli('export', '--format', 'bundle', '--run', runId, '--out', out);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /^wrote a pyreft training bundle to .* \(3 training examples, 1 held out\)$/m);
  assert.deepEqual(readJsonl(join(out, 'heldout.jsonl')), heldRows);
  assert.deepEqual(readJsonl(join(out, 'data.jsonl')), ROWS);
});

test('train.py gives pyreft a chat prompt that tokenizes with one start token, as the studio reads it', () => {
  // Bug: pyreft's data modules tokenize prompts with the tokenizer's special tokens, and train.py
  // handed them the rendered chat template, which for Llama-style templates already starts with the
  // start token: the bundle trained on [<s>, <s>, ...] where the studio trains on [<s>, ...].
  // The stand-in tokenizers below behave as transformers' do: a call adds the start token when the
  // tokenizer has one that it adds (Llama), none otherwise (Qwen).
  const { out } = bundle();
  const script = `
import json, train

class Tok:
    chat_template = "..."
    def __init__(self, bos, adds):
        self.bos_token, self.bos_token_id, self.adds = bos, (1 if bos else None), adds
    def __call__(self, text):
        ids = [1] if self.adds else []
        if self.bos_token and text.startswith(self.bos_token):
            ids, text = ids + [1], text[len(self.bos_token):]
        return {"input_ids": ids + [ord(c) for c in text]}
    def apply_chat_template(self, msgs, tokenize, add_generation_prompt):
        return (self.bos_token or "") + "".join("<|%s|>%s" % (m["role"], m["content"]) for m in msgs) + "<|assistant|>"

cfg = {"chatTemplate": "auto"}
llama, qwen = Tok("<s>", True), Tok(None, False)
print(json.dumps([
    train.prompt_text(llama, cfg, {"prompt": "Hi", "completion": "Yo"}),
    llama(train.prompt_text(llama, cfg, {"messages": [{"role": "user", "content": "Hi"}], "completion": "Yo"}))["input_ids"].count(1),
    train.prompt_text(qwen, cfg, {"prompt": "Hi", "completion": "Yo"}),
    train.prompt_text(Tok("<s>", False), cfg, {"prompt": "Hi", "completion": "Yo"}),
    train.prompt_text(llama, {"chatTemplate": "none"}, {"prompt": "<s>Hi", "completion": "Yo"}),
]))
`;
  const r = py(['-c', script], out);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    '<|user|>Hi<|assistant|>',
    1,
    '<|user|>Hi<|assistant|>',
    // A tokenizer that adds no start token keeps the template's own.
    '<s><|user|>Hi<|assistant|>',
    // A plain prompt is the user's text, untouched.
    '<s>Hi',
  ]);
});

test("a result folder shaped like pyreft's save plus train.py's side file imports back with no flags", () => {
  const { out } = bundle();
  const result = join(out, 'result');
  mkdirSync(result);
  // What reft_model.save writes for LoReFT on layers 1, 2 × prefix/suffix (rank 4): the fixture is a real one.
  cpSync(F2L2, result, { recursive: true });
  const w = py(
    ['-c', `${STAND_IN_TOKENIZER}\ntrain.write_sidecar("result", cfg, Tok(None), rows, "fp32")`],
    out,
  );
  assert.equal(w.status, 0, w.stderr);
  const lib = openTempLibrary();
  try {
    const r = importAdapter(lib, { path: result, name: 'from the cluster' });
    assert.deepEqual(r.notes, []);
    const m = r.adapter.manifest as {
      positions: string;
      shareWeights: boolean;
      layers: number[];
      baseModel: { fingerprint: string };
    };
    assert.equal(m.positions, 'f1+l1');
    assert.equal(m.shareWeights, false);
    assert.deepEqual(m.layers, [1, 2]);
    assert.equal(m.baseModel.fingerprint, loadModelSpec(LLAMA).fingerprint);
  } finally {
    closeLibrary(lib);
  }
});

test("the result's side file records the prompt format train.py trained with, and the import keeps it", () => {
  // Bug: train.py formatted plain prompts through the chat template (chatTemplate 'auto', a model
  // with one) but its reft_studio.json always said promptTemplate null: re-imported, the studio
  // read the adapter's prompts plain, not as it was trained.
  const cases: [string, string, string | null][] = [
    ['a model with a chat template, chatTemplate auto', 'Tok("{{ messages }}")', 'chat'],
    ['a model without one', 'Tok(None)', null],
    ['chatTemplate none', 'Tok("{{ messages }}"); cfg["chatTemplate"] = "none"', null],
  ];
  for (const [what, tokenizer, expected] of cases) {
    const { out } = bundle();
    const result = join(out, 'result');
    mkdirSync(result);
    cpSync(F2L2, result, { recursive: true });
    const w = py(
      [
        '-c',
        `${STAND_IN_TOKENIZER}\ntok = ${tokenizer}\ntrain.write_sidecar("result", cfg, tok, rows, "fp32")`,
      ],
      out,
    );
    assert.equal(w.status, 0, w.stderr);
    const lib = openTempLibrary();
    try {
      const r = importAdapter(lib, { path: result, name: 'from the cluster' });
      assert.equal(r.adapter.manifest.promptTemplate, expected, what);
    } finally {
      closeLibrary(lib);
    }
  }
  // A chat dataset's rows are conversations: through the template whatever chatTemplate says.
  const chat = py(
    [
      '-c',
      `${STAND_IN_TOKENIZER}\ncfg["chatTemplate"] = "none"\nprint(json.dumps(train.sidecar(cfg, any(train.through_chat_template(Tok(None), cfg, r) for r in [{"messages": [], "completion": "x"}]), "fp32")["promptTemplate"]))`,
    ],
    bundle().out,
  );
  assert.equal(chat.status, 0, chat.stderr);
  assert.equal(JSON.parse(chat.stdout), 'chat');
});

test("the result's side file records the precision train.py trained in, and the import keeps it", () => {
  // Bug: train.py's reft_studio.json recorded no precision, so an adapter trained with --bf16 (or
  // without) imported back with none: `adapters list` DTYPE "-" where the studio's own say theirs.
  for (const precision of ['bf16', 'fp32']) {
    const { out } = bundle();
    const result = join(out, 'result');
    mkdirSync(result);
    cpSync(F2L2, result, { recursive: true });
    const w = py(
      ['-c', `${STAND_IN_TOKENIZER}\ntrain.write_sidecar("result", cfg, Tok(None), rows, "${precision}")`],
      out,
    );
    assert.equal(w.status, 0, w.stderr);
    const side = JSON.parse(readFileSync(join(result, SIDECAR_FILE), 'utf8'));
    assert.equal(side.precision, precision);
    assert.equal(side.dtype, 'float32', "the adapter's own parameters stay float32");
    const lib = openTempLibrary();
    try {
      assert.equal(importAdapter(lib, { path: result, name: precision }).adapter.precision, precision);
    } finally {
      closeLibrary(lib);
    }
  }
  // main() says which: --bf16 loads the base in bfloat16.
  const src = readFileSync(join(bundle().out, 'train.py'), 'utf8');
  assert.ok(src.includes('precision = "bf16" if args.bf16 else "fp32"'), 'train.py names its precision');
  assert.ok(src.includes('write_sidecar(args.out, cfg, tokenizer, rows, precision)'));
});

test('a bundle refuses a non-empty --out unless forced, and bad run settings before writing', () => {
  const { out } = bundle();
  const data = join(out, 'data.jsonl');
  assert.throws(() => makeBundle({ config: { model: LLAMA }, data, out }), { code: 'out-not-empty' });
  const r = makeBundle({ config: { model: LLAMA, positions: 'l1' }, data, out, force: true });
  assert.equal(r.config.positions, 'l1');
  const fresh = join(tmp('b'), 'x');
  assert.throws(() => makeBundle({ config: { model: LLAMA, layers: '9' }, data, out: fresh }), {
    code: 'layer-out-of-range',
  });
  assert.throws(() => makeBundle({ config: { model: LLAMA }, out: fresh }), { code: 'missing-data' });
  assert.throws(() => readdirSync(fresh), /ENOENT/);
});

test('a bundle refused for its data leaves nothing, not even the folders made for --out', () => {
  // The data is read while data.jsonl is written, inside the folder's atomic write.
  const dir = tmp('bundle-bad');
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify(ROWS[0])}\nnot json\n`);
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const out = join(dir, 'exports', 'pirates', 'bundle');
  assert.throws(() => makeBundle({ config: { model: LLAMA }, data: bad, out }), {
    code: 'bad-data',
    message: `${bad}: line 2: not valid JSON (unexpected 'o')`,
  });
  assert.throws(() => makeBundle({ config: { model: LLAMA }, data: empty, out }), { code: 'empty-dataset' });
  assert.deepEqual(readdirSync(dir).sort(), ['bad.jsonl', 'empty.jsonl']);
});

test('a library run (model, dataset version, stored configuration) becomes a bundle: export --run ID', () => {
  const lib = openTempLibrary();
  try {
    const model = addModel(lib, { path: LLAMA, name: 'tiny' });
    const dir = tmp('run');
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, ROWS.map((r) => JSON.stringify(r)).join('\n'));
    const ds = importDataset(lib, { path: file, name: 'pirate' });
    const run = createRun(lib, { name: 'r', modelId: model.id, datasetVersionId: ds.version.id });
    const stored = {
      layers: [2],
      positions: 'f2+l2',
      shareWeights: true,
      rank: 3,
      lr: 0.004,
      epochs: 1,
      batchSize: 2,
      runId: String(run.id),
    };
    lib.db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(JSON.stringify(stored), run.id);
    const src = runTrainingSource(lib, run.id);
    assert.equal(src.config.model, model.path);
    const r = makeBundle({ config: src.config, data: src.data ?? undefined, out: join(dir, 'bundle') });
    assert.deepEqual(r.config.layers, [2]);
    assert.equal(r.config.positions, 'f2+l2');
    assert.equal(r.config.shareWeights, true);
    assert.equal(r.config.rank, 3);
    assert.equal(r.config.runId, String(run.id));
    assert.equal(r.config.data.rows, 3);
    assert.throws(() => runTrainingSource(lib, 999), { code: 'not-found' });
  } finally {
    closeLibrary(lib);
  }
});

test("a bundle's files are byte for byte those of the two-pass writer it replaced", () => {
  // Hashes of every file, taken with the writer that read the data file twice (once for the rows the
  // run trains on, once to copy them): reading it once must change no byte.
  const dir = tmp('bundle-golden');
  const noBos = modelWithoutBos(join(dir, 'no-bos'));
  const text = WORDS.flatMap((w, i) => [
    { prompt: String.fromCharCode(97 + i), completion: `One letter, ${w}.` },
    {
      prompt: `Tell me all about the ${w}, ${'please '.repeat(i % 4)}.`,
      completion: `A ${w} ${'ho '.repeat(i)}.`,
    },
  ]);
  const chat = WORDS.map((w, i) => ({
    messages: [
      { role: 'user', content: i % 2 ? w : `Tell me about the ${w}.` },
      { role: 'assistant', content: `A ${w}.` },
    ],
  }));
  const data = writeJsonl(join(dir, 'text.jsonl'), text);
  const held = writeJsonl(join(dir, 'held.jsonl'), text.slice(0, 5));
  const chatData = writeJsonl(join(dir, 'chat.jsonl'), chat);
  const base = { layers: '1;2', positions: 'f1+l1', chatTemplate: 'none' as const, seed: 3 };
  const cases = {
    plain: { config: { ...base, model: noBos }, data },
    'eval-data': { config: { ...base, model: noBos, evalData: held }, data },
    share: { config: { ...base, model: noBos, evalSplit: 0.25 }, data },
    chat: { config: { ...base, model: LLAMA, chatTemplate: 'auto' as const }, data: chatData },
  };
  const got: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(cases)) {
    const out = join(dir, name);
    const r = makeBundle({ ...c, out });
    const hash = (f: string) =>
      createHash('sha256')
        .update(readFileSync(join(out, f)))
        .digest('hex')
        .slice(0, 16);
    got[name] = {
      data: [r.config.data.rows, hash('data.jsonl')],
      ...(r.config.heldOut && { heldOut: [r.config.heldOut.rows, hash('heldout.jsonl')] }),
    };
  }
  assert.deepEqual(got, {
    plain: { data: [20, '10bb4388da0cd02c'] },
    'eval-data': { data: [20, '10bb4388da0cd02c'], heldOut: [5, '239863b75e81e75f'] },
    share: { data: [15, 'e35ea58ee9375af8'], heldOut: [5, '0e42b34f181cf369'] },
    chat: { data: [20, '97e7324d75cdd024'] },
  });
});

test('a completion of no tokens is refused naming its line, by the bundle as by the trainer', async () => {
  // Only a model with no end token can have one (its text all stripped by the tokenizer): the trainer
  // took it, then failed at its batch with an ONNX Runtime broadcast error; the bundle copied it.
  const dir = tmp('bundle-empty-completion');
  const model = modelWithoutEos(join(dir, 'no-eos'));
  const good = ROWS.slice(0, 2);
  const blank = [...good, { prompt: 'Where is the ship?', completion: '  ' }, ROWS[2]];
  const data = writeJsonl(join(dir, 'blank.jsonl'), blank);
  const config = { model, layers: '1;2', chatTemplate: 'none' as const };
  const refusal = (file: string, line: number) => ({
    code: 'empty-completion',
    message: `${file}: line ${line}: the completion has no tokens (the tokenizer keeps none of its text and the model has no end token), so there is nothing to learn`,
  });
  await assert.rejects(() => prepareRun({ ...config, data, out: join(dir, 'unused') }), refusal(data, 3));
  const out = join(dir, 'exports', 'bundle');
  assert.throws(() => makeBundle({ config, data, out }), refusal(data, 3));
  assert.throws(() => makeBundle({ config: { ...config, evalSplit: 0.3 }, data, out }), refusal(data, 3));
  // A held-out file's rows are scored, so checked alike.
  const train = writeJsonl(join(dir, 'train.jsonl'), good);
  assert.throws(
    () => makeBundle({ config: { ...config, evalData: data }, data: train, out }),
    refusal(data, 3),
  );
  assert.throws(() => readdirSync(join(dir, 'exports')), /ENOENT/);
  // Text the tokenizer keeps is a completion, however short.
  const r = makeBundle({ config: { ...config, evalData: train }, data: writeJsonl(data, good), out });
  assert.equal(bundleRowsText(r.config), '2 training examples, 2 held out');
});
