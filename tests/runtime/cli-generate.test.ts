// `reft-studio generate` as a user runs it: greedy output equals the engine's own greedy decoding of
// the same prompt, an adapter changes the output, and a pyreft folder without positions is refused
// with one clear line.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel, setModelQuantize } from '../../electron/backend/library/models.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { onlyEvents } from '../cli/json-stream.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const run = (...args: string[]) =>
  JSON.parse(execFileSync(process.execPath, [BIN, 'generate', ...args, '--json'], { encoding: 'utf8' }));

describe('reft-studio generate', () => {
  const model = modelDir('llama');
  const adapter = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');

  it('greedy tokens equal the engine’s greedy decoding', async () => {
    const out = run('--model', model, '--prompt', 'Hello there', '--greedy', '--max-new-tokens', '6');
    const runner = await ModelRunner.load(model, null);
    const ids = runner.encodePrompt('Hello there', false);
    const gen = await Generator.load(loadModelSpec(model));
    const r = await gen.generate([ids], { greedy: true, maxNewTokens: 6 });
    assert.deepEqual(out.tokens, r.tokens[0]);
    assert.equal(out.promptTokens, ids.length);
    // Where and how it decoded: the CPU, a token a run (the in-graph loop pays on CUDA only).
    assert.equal(out.device, 'cpu');
    assert.equal(out.tokensPerRun, 1);
    assert.equal(out.step, null);
    assert.ok(out.decodeTokensPerSecond > 0);
  });

  it('a stop string is never streamed: the pieces add up to the cut answer', async () => {
    const runner = await ModelRunner.load(model, null);
    try {
      const opts = { chat: false, greedy: true, maxNewTokens: 16 } as const;
      const [full] = await runner.generate(['Hello world'], opts);
      // Two characters from the middle of the answer, so more text follows them.
      const chars = [...full.text];
      const stop = chars.slice(4, 6).join('');
      const pieces: string[] = [];
      const [r] = await runner.generate(['Hello world'], {
        ...opts,
        stop: [stop],
        onText: (_row, t) => pieces.push(t),
      });
      assert.equal(r.finishReason, 'stop');
      assert.equal(r.text, full.text.slice(0, full.text.indexOf(stop)));
      assert.equal(pieces.join(''), r.text);
    } finally {
      await runner.release();
    }
  });

  it('a stop string that is a special token’s text stops at that token, in the engine and the CLI', async () => {
    const runner = await ModelRunner.load(model, null);
    try {
      const user = runner.tokenizer.tokenToId('<|user|>') as number;
      assert.ok(runner.tokenizer.specialIds.has(user));
      const opts = { chat: false, temperature: 3, maxNewTokens: 30 } as const;
      // A seed whose sample draws <|user|> (before the end token, and before its last token).
      let seed = 0;
      let free: number[] = [];
      let at = -1;
      for (; seed < 400; seed++) {
        free = (await runner.generate([`Hello ${seed}`], { ...opts, seed }))[0].ids;
        at = free.indexOf(user);
        if (at >= 0 && at < 29) break;
      }
      assert.ok(at >= 0 && at < 29, 'no seed drew <|user|> (this test would prove nothing)');
      const [r] = await runner.generate([`Hello ${seed}`], { ...opts, seed, stop: ['<|user|>'] });
      assert.equal(r.finishReason, 'stop');
      assert.deepEqual(r.ids, free.slice(0, at + 1));
      assert.equal(r.text, runner.tokenizer.decode(free.slice(0, at), { skipSpecialTokens: true }));
      const cli = run(
        ...['--model', model, '--prompt', `Hello ${seed}`, '--temperature', '3', '--seed', String(seed)],
        ...['--max-new-tokens', '30', '--stop', '<|user|>'],
      );
      assert.deepEqual([cli.finishReason, cli.tokens, cli.text], ['stop', r.ids, r.text]);
    } finally {
      await runner.release();
    }
  });

  it("stops at the tokenizer's end token, which training appends, where the config names none", async () => {
    // The Qwen2 fixture's config.json and generation_config.json name no eos; its tokenizer's is </s>.
    const runner = await ModelRunner.load(modelDir('qwen2'), null);
    try {
      const eos = runner.tokenizer.eosTokenId as number;
      assert.deepEqual(runner.spec.eosTokenIds, []);
      const opts = { chat: false, temperature: 3, maxNewTokens: 30 } as const;
      // A seed whose sample draws </s> before its last token when nothing ends the answer.
      let seed = 0;
      let at = -1;
      for (; seed < 400; seed++) {
        const [free] = await runner.generate([`Hello ${seed}`], { ...opts, seed, eosTokenIds: [] });
        at = free.ids.indexOf(eos);
        if (at >= 0 && at < 29) break;
      }
      assert.ok(at >= 0 && at < 29, 'no seed drew the end token (this test would prove nothing)');
      const [r] = await runner.generate([`Hello ${seed}`], { ...opts, seed });
      assert.equal(r.finishReason, 'eos');
      assert.equal(r.ids.length, at + 1);
      assert.equal(r.ids.at(-1), eos);
    } finally {
      await runner.release();
    }
  });

  it('an empty stop string stops nothing (it is in every text)', () => {
    const args = ['--model', model, '--prompt', 'Hello world', '--greedy', '--max-new-tokens', '5'];
    const plain = run(...args);
    const withEmpty = run(...args, '--stop', '');
    assert.equal(withEmpty.finishReason, plain.finishReason);
    assert.deepEqual(withEmpty.tokens, plain.tokens);
    assert.equal(withEmpty.tokens.length, 5);
  });

  it('an adapter with its positions changes the continuation', () => {
    const base = run(
      '--model',
      model,
      '--prompt',
      'The quick brown fox',
      '--greedy',
      '--max-new-tokens',
      '6',
    );
    const withAdapter = run(
      '--model',
      model,
      '--adapter',
      adapter,
      '--positions',
      'f2+l2',
      '--prompt',
      'The quick brown fox',
      '--greedy',
      '--max-new-tokens',
      '6',
    );
    assert.notDeepEqual(withAdapter.tokens, base.tokens);
  });

  // The CLI as a user runs it, its output as text.
  const cliRun = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

  it('says when it opens the session (tens of seconds on a large model), on stderr; --json as an event', () => {
    const r = cliRun('generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '2', '--json');
    assert.equal(r.status, 0, r.stderr);
    // Every stderr line is JSON with --json (before: a plain line a reader of events could not parse).
    assert.deepEqual(onlyEvents(r.stderr), [
      { event: 'log', message: 'loading the model into ONNX Runtime' },
    ]);
    const plain = cliRun('generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '2');
    assert.equal(plain.stderr, 'loading the model into ONNX Runtime\n');
    assert.equal(JSON.parse(r.stdout).tokens.length, 2);
  });

  it('--adapter takes a library adapter id, as evaluate and export do; a name is told its id; --model may be left out', () => {
    const dir = tempDir('reft-generate-id-');
    const imported = cliRun(
      'import',
      adapter,
      '--positions',
      'f2+l2',
      '--name',
      'fox',
      '--model',
      model,
      '--json',
      '--data-dir',
      dir,
    );
    assert.equal(imported.status, 0, imported.stderr);
    const id = JSON.parse(imported.stdout).adapter.id;
    const args = ['--model', model, '--prompt', 'The quick brown fox', '--greedy', '--max-new-tokens', '6'];
    // Before: "error: 1: no such folder".
    const byId = run(...args, '--adapter', String(id), '--data-dir', dir);
    assert.deepEqual(byId.tokens, run(...args, '--adapter', adapter, '--positions', 'f2+l2').tokens);
    assert.equal(byId.adapter, String(id));
    const named = cliRun('generate', ...args, '--adapter', 'fox', '--data-dir', dir);
    assert.equal(named.status, 1);
    assert.equal(
      named.stderr,
      `error: --adapter: "fox" is not a folder; the library adapter of that name is --adapter ${id}\n`,
    );
    const unknown = cliRun('generate', ...args, '--adapter', 'nope', '--data-dir', dir);
    assert.equal(unknown.status, 1);
    assert.match(
      unknown.stderr,
      /^error: --adapter: "nope" is neither a folder nor a library adapter id \(the ids: reft-studio adapters list --data-dir \S+\)\n$/,
    );

    // Without --model a library adapter runs on its base model, found in the library by its
    // fingerprint (before: "--model DIR is required"); --model also takes a library model's id. The
    // fixture llama is the seeded demo model's weights, so it is in the library already.
    const bare = ['--prompt', 'The quick brown fox', '--greedy', '--max-new-tokens', '6', '--data-dir', dir];
    assert.deepEqual(run(...bare, '--adapter', String(id)).tokens, byId.tokens);
    const added = cliRun('models', 'add', model, '--json', '--data-dir', dir);
    assert.equal(added.status, 0, added.stderr);
    const modelId = JSON.parse(added.stdout).id;
    assert.deepEqual(run(...bare, '--adapter', String(id), '--model', String(modelId)).tokens, byId.tokens);
    const qwen = cliRun(
      'import',
      join(REFT, 'qwen2-loreft-f1l1', 'pyreft_final'),
      '--positions',
      'f1+l1',
      '--model',
      modelDir('qwen2'),
      '--json',
      '--data-dir',
      dir,
    );
    assert.equal(qwen.status, 0, qwen.stderr);
    const qwenId = JSON.parse(qwen.stdout).adapter.id;
    const missing = cliRun('generate', ...bare, '--adapter', String(qwenId));
    assert.equal(missing.status, 1);
    assert.equal(
      missing.stderr,
      `error: the base model of ${qwenId} is not in the library: give it with --model ID|DIR\n`,
    );
    const pyreft = cliRun('generate', ...bare, '--adapter', adapter, '--positions', 'f2+l2');
    assert.equal(pyreft.status, 1);
    assert.equal(
      pyreft.stderr,
      `error: ${adapter} does not record its base model (a plain pyreft folder): give it with --model ID|DIR\n`,
    );
    const neither = cliRun('generate', ...bare);
    assert.equal(neither.status, 2);
    assert.match(
      neither.stderr,
      /--model DIR\|ID is required \(or --adapter ID: a library adapter runs on its base model\)/,
    );
  });

  it('a pyreft folder that does not record positions needs --positions', () => {
    const r = cliRun('generate', '--model', model, '--adapter', adapter, '--prompt', 'hi');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^error: .*does not record its positions.*--positions/m);
  });

  it('evaluate takes the --positions its error asks for', () => {
    const data = join(tempDir('eval-positions-'), 'data.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: 'hello', completion: ' world' })}\n`);
    const args = ['evaluate', '--adapter', adapter, '--model', model, '--data', data, '--json'];
    const env = { ...process.env, REFT_STUDIO_HOME: tempDir('eval-positions-home-') };
    const opts = { encoding: 'utf8', env } as const;
    const without = spawnSync(process.execPath, [BIN, ...args], opts);
    assert.equal(without.status, 1);
    assert.match(without.stderr, /^error: .*does not record its positions.*pass --positions/m);
    const r = spawnSync(process.execPath, [BIN, ...args, '--positions', 'f2+l2'], opts);
    assert.equal(r.status, 0, r.stderr);
    // Opening the sessions (the adapter's, the base model's) is said, not a silent wait.
    // With --json as a log event, every stderr line one.
    assert.ok(onlyEvents(r.stderr).some((e) => e.message === 'loading the model into ONNX Runtime'));
    const out = JSON.parse(r.stdout);
    assert.equal(out.kind, 'loss');
    assert.ok(Number.isFinite(out.metrics.loss) && out.metrics.loss !== out.metrics.baseLoss);
  });

  it("evaluate reads a half-precision base from the library's store, in the model's Base weights form", () => {
    const data = join(tempDir('eval-store-'), 'data.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: 'hello', completion: ' world' })}\n`);
    const home = tempDir('eval-store-home-');
    const bf16 = modelDir('llama-bf16');
    const args = ['evaluate', '--adapter', adapter, '--data', data, '--positions', 'f2+l2', '--json'];
    const opts = { encoding: 'utf8', env: { ...process.env, REFT_STUDIO_HOME: home } } as const;
    const stores = () =>
      readdirSync(join(home, 'bases'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('weights.safetensors'))
        .map((f) => f.split(sep).at(-2))
        .sort();
    // Not cast in each of its two sessions (a private float32 copy each): one shared fp32 store.
    const r = spawnSync(process.execPath, [BIN, ...args, '--model', bf16], opts);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(
      onlyEvents(r.stderr).some((e) => /^converting the base weights to 32 bits: 0% of/.test(e.message)),
    );
    assert.deepEqual(stores(), ['fp32']);
    // A library model's Base weights setting is honoured, as in the studio.
    const lib = openLibrary(home);
    const id = addModel(lib, { path: bf16 }).id;
    setModelQuantize(lib, id, 'int8');
    closeLibrary(lib);
    const q = spawnSync(process.execPath, [BIN, ...args, '--model', String(id)], opts);
    assert.equal(q.status, 0, q.stderr);
    assert.deepEqual(stores(), ['fp32', 'int8-b32']);
  });

  it('a device it does not know is a usage error before anything loads (generate, evaluate)', () => {
    const r = cliRun('generate', '--model', model, '--prompt', 'hi', '--device', 'gpu');
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^error: generate: --device must be one of auto, cpu, cuda, webgpu, dml, coreml \(got "gpu"\)/m,
    );
    // evaluate too, before it records an evaluation.
    const e = cliRun('evaluate', '--adapter', 'x', '--data', 'y', '--device', 'gpu');
    assert.equal(e.status, 2);
    assert.match(e.stderr, /^error: evaluate: --device must be one of .* \(got "gpu"\)/m);
  });

  it("a generation cut short by the model's context says so (not 'length')", () => {
    // The GPT-2 fixture holds 128 positions; 'a' × 115 is 116 prompt tokens, so 12 new ones fit.
    const args = ['generate', '--model', modelDir('gpt2'), '--prompt', 'a'.repeat(115), '--greedy'];
    const cut = cliRun(...args, '--max-new-tokens', '50', '--json');
    assert.equal(cut.status, 0, cut.stderr);
    const out = JSON.parse(cut.stdout);
    assert.equal(out.finishReason, 'context');
    assert.equal(out.tokens.length, 128 - out.promptTokens);
    assert.match(
      cut.stderr,
      new RegExp(
        `stopped after ${out.tokens.length} new tokens: the model's context holds 128 tokens and the prompt has ${out.promptTokens}`,
      ),
    );
    // Asking for no more than fits is the usual 'length', without the note.
    const fits = cliRun(...args, '--max-new-tokens', String(out.tokens.length), '--json');
    assert.equal(JSON.parse(fits.stdout).finishReason, 'length');
    assert.doesNotMatch(fits.stderr, /context/);
  });

  it('a sampling value out of range fails before the model loads', () => {
    const r = cliRun('generate', '--model', '/nonexistent/model', '--prompt', 'hi', '--top-p', '5');
    assert.notEqual(r.status, 0);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr.trim(),
      'error: generate: --top-p must be a number above 0 and at most 1 (got "5")',
    );
  });

  it('a base weights form it does not know is a usage error naming auto too', () => {
    const r = cliRun('generate', '--model', model, '--prompt', 'hi', '--quantize', 'int3');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error: generate: --quantize must be auto, none, int8 or int4 .*got "int3"/m);
  });

  it("a prompt token the model has no embedding for is one line, not ORT's Gather error", () => {
    // tokenizer.json with an added token past config.json's vocab_size (640).
    const dir = join(tempDir('bigid-'), 'model');
    cpSync(model, dir, { recursive: true });
    const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    tok.added_tokens.push({
      id: 700,
      content: '<big>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
    const r = cliRun('generate', '--model', dir, '--prompt', 'hi <big>', '--max-new-tokens', '2');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      "error: the prompt has token id 700, outside the model's vocabulary (config.json vocab_size=640); tokenizer.json has ids the model's weights do not",
    );
  });

  it('an empty prompt on a tokenizer that adds no start token is refused in words', () => {
    const dir = join(tempDir('nobos-'), 'model');
    cpSync(modelDir('qwen2'), dir, { recursive: true });
    const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    tok.post_processor = null; // no <s> before the text, as Qwen's own tokenizers
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
    const r = cliRun('generate', '--model', dir, '--prompt', '', '--max-new-tokens', '2');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      'error: the prompt is empty and this model adds no start token to it: give some text',
    );
    // Whitespace is text: it has tokens and generates.
    const ws = cliRun('generate', '--model', dir, '--prompt', '  ', '--max-new-tokens', '2', '--json');
    assert.equal(ws.status, 0, ws.stderr);
    assert.equal(JSON.parse(ws.stdout).tokens.length, 2);
  });

  it('an adapter trained on chat prompts, on a copy of its base without a chat template, says so', () => {
    const dir = tempDir('chat-adapter-');
    // The same weights (the same fingerprint), but no chat template.
    const bare = join(dir, 'model');
    cpSync(model, bare, { recursive: true });
    rmSync(join(bare, 'chat_template.jinja'));
    const chatTrained = join(dir, 'adapter');
    cpSync(adapter, chatTrained, { recursive: true });
    const sidecar = {
      format: 'reft-studio-sidecar',
      version: 1,
      positions: 'f2+l2',
      shareWeights: false,
      dropout: 0,
      activation: null,
      promptTemplate: 'chat',
      baseModel: null,
      dtype: 'float32',
    };
    writeFileSync(join(chatTrained, 'reft_studio.json'), JSON.stringify(sidecar));
    const r = cliRun('generate', '--model', bare, '--adapter', chatTrained, '--prompt', 'hi');
    // Bug: "error: <model>: the model has no chat template", as if the model alone were at fault.
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      `error: adapter "${chatTrained}" was trained on chat-formatted prompts, and this model has no chat template: use it on a model folder that has the chat template it was trained with (chat_template.jinja, or chat_template in tokenizer_config.json)`,
    );
  });
});
