// The CLI commands models inspect, tokenize and chat-template on the golden fixtures, called in
// process through cli/main.ts with captured output.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';
import { fractionalByteFields } from '../helpers/byte-fields.ts';
import { tempDir } from '../helpers/temp.ts';

const MODELS = fileURLToPath(new URL('../fixtures/golden/models/', import.meta.url));
const GOLDEN = JSON.parse(
  readFileSync(new URL('../fixtures/golden/tokenizers/bytelevel/golden.json', import.meta.url), 'utf8'),
);
const tmp = tempDir('reft-cli-');

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main([...argv, '--data-dir', tmp], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
  });
  return { code, out, err };
}

test('models inspect --json prints one object with the key fields', async () => {
  const { code, out } = await cli('models', 'inspect', join(MODELS, 'qwen3'), '--json');
  assert.equal(code, 0);
  assert.equal(out.trim().split('\n').length, 1);
  const s = JSON.parse(out);
  assert.equal(s.arch, 'qwen3');
  assert.equal(s.layers, 3);
  assert.equal(s.hiddenSize, 64);
  assert.equal(s.heads, 4);
  assert.equal(s.kvHeads, 2);
  assert.equal(s.headDim, 32);
  assert.equal(s.vocabSize, 640);
  assert.equal(s.dtype, 'float32');
  assert.equal(s.params, 207488);
  assert.match(s.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(s.tokenizer.chatTemplate, true);
  // What automatic base weights pick here (no NVIDIA GPU on the test machine: the CPU only).
  assert.equal(s.autoWeights[0].device, 'cpu');
  assert.equal(s.autoWeights[0].form, 'none');
  assert.equal(s.autoWeights[0].bytes, 4 * 207488);
});

test('models inspect: the automatic base form of a model too large for this computer is 8 or 4 bits', async () => {
  const { autoWeights } = await import('../../cli/commands/models-inspect.ts');
  const { summarizeModel, openModelFolder } = await import('../../native-runtime/models/model-folder.ts');
  const s = summarizeModel(openModelFolder(join(MODELS, 'llama')));
  // Llama-3-8B's sizes on the fixture's summary: float32 (32 GB) fits only a computer of 36 GB and more.
  const big = { ...s, params: 8.03e9, hiddenSize: 4096, vocabSize: 128256, tieEmbeddings: false };
  const [cpu] = await autoWeights(big);
  assert.equal(cpu.form, cpu.memoryBytes > 36e9 ? 'none' : cpu.memoryBytes > 11e9 ? 'int8' : 'int4');
  // A whole number of bytes, as --json prints it (8 bits' 1.125 bytes a weight made fractions).
  assert.deepEqual(fractionalByteFields([cpu]), []);
});

test('models inspect without --json prints a table', async () => {
  const { code, out } = await cli('models', 'inspect', join(MODELS, 'gpt2'));
  assert.equal(code, 0);
  assert.match(out, /architecture\s+gpt2 \(GPT2LMHeadModel\)/);
  assert.match(out, /rope\s+none \(learned positions\)/);
  assert.match(out, /params\s+199\.2K \(199232\)/);
  assert.match(out, /base weights\s+automatic: float32 on this computer's CPU \(/);
});

test('models inspect on a folder without config.json fails with one line naming the file', async () => {
  const r = await cli('models', 'inspect', tmp, '--json');
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /^error: config\.json: not found/);
  assert.equal(JSON.parse(r.out).error.code, 'missing-file');
  assert.equal((await cli('models', 'inspect')).code, 2);
});

test('models inspect on an unsupported architecture', async () => {
  const dir = join(tmp, 'falcon');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model_type: 'falcon', architectures: ['FalconForCausalLM'] }),
  );
  const r = await cli('models', 'inspect', dir);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /config\.json: FalconForCausalLM \(model_type "falcon"\) is not supported \(supported: Llama, .*Phi-3\)/,
  );
});

test('tokenize with and without special tokens', async () => {
  const s = GOLDEN.strings[0];
  const a = JSON.parse((await cli('tokenize', '--model', join(MODELS, 'llama'), '--text', s.text)).out);
  assert.deepEqual(a, { ids: s.ids, tokens: ['<s>', ...s.tokens] });
  const b = await cli(
    'tokenize',
    '--model',
    join(MODELS, 'llama'),
    '--text',
    s.text,
    '--no-special',
    '--json',
  );
  assert.deepEqual(JSON.parse(b.out), { ids: s.ids_no_special, tokens: s.tokens });
  const bad = await cli('tokenize', '--text', 'x');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--model/);
});

test('chat-template renders the golden chat; accepts {"messages": [...]} too', async () => {
  const file = join(tmp, 'chat.json');
  writeFileSync(file, JSON.stringify(GOLDEN.chat.messages));
  const gen = await cli(
    'chat-template',
    '--model',
    join(MODELS, 'gemma'),
    '--messages',
    file,
    '--generation-prompt',
  );
  assert.deepEqual(JSON.parse(gen.out), { text: GOLDEN.chat.text_gen });
  const row = join(tmp, 'row.json');
  writeFileSync(row, JSON.stringify({ messages: GOLDEN.chat.messages }));
  const plain = await cli('chat-template', '--model', join(MODELS, 'gemma'), '--messages', row, '--json');
  assert.deepEqual(JSON.parse(plain.out), { text: GOLDEN.chat.text });
});

test('chat-template with a malformed messages file names the file', async () => {
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '[{"role": "user"');
  const r1 = await cli('chat-template', '--model', join(MODELS, 'llama'), '--messages', bad, '--json');
  assert.equal(r1.code, 1);
  assert.equal(JSON.parse(r1.out).error.code, 'bad-json');
  assert.match(r1.err, /bad\.json: not valid JSON/);
  const noRole = join(tmp, 'norole.json');
  writeFileSync(noRole, '[{"content": "x"}]');
  const r2 = await cli('chat-template', '--model', join(MODELS, 'llama'), '--messages', noRole);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /norole\.json\[0\]\.role/);
});

test('chat-template: a bad messages file is named, its contents never quoted; /dev/zero is refused', async () => {
  const secret = join(tmp, 'secret.json');
  writeFileSync(secret, '{"a":hunter2}');
  const r = await cli('chat-template', '--model', join(MODELS, 'llama'), '--messages', secret, '--json');
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: .*secret\.json: not valid JSON \([^")]+\)\n$/);
  assert.doesNotMatch(r.err + r.out, /hunter2/);
  const zero = await cli('chat-template', '--model', join(MODELS, 'llama'), '--messages', '/dev/zero');
  assert.equal(zero.code, 1);
  assert.match(zero.err, /^error: \/dev\/zero: not a regular file\n$/);
});
