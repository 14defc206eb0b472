// `reft-studio generate` with several --adapter flags, each with its --scale (matched by order): the
// tokens equal the engine's composition of the same adapters at the same strengths (what the
// Playground's 'generate' task runs, ModelRunner.loadComposed), a single --adapter loads as before,
// and what cannot be composed is refused with one line before the model loads.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { readPyreftFolder } from '../../native-runtime/formats/pyreft.ts';
import { pyreftToStudio, writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const model = modelDir('llama');
const root = tempDir('reft-compose-cli-');
// A prompt where each adapter, both, and the strengths each change the greedy answer.
const prompt = 'Question 5: what is 5 plus 5?';
const greedy = ['--prompt', prompt, '--greedy', '--max-new-tokens', '6', '--json'];

/** A studio folder of a fixture adapter, recording its positions, base model and prompt format. */
function studioFolder(
  name: string,
  kase: string,
  positions: string,
  o: { base?: string; promptTemplate?: string | null } = {},
): string {
  const spec = loadModelSpec(modelDir(o.base ?? 'llama'));
  const dir = join(root, name);
  writeStudioAdapter(
    dir,
    pyreftToStudio(readPyreftFolder(join(REFT, kase, 'pyreft_final')), {
      positions,
      baseModel: { arch: spec.arch, fingerprint: spec.fingerprint },
      promptTemplate: o.promptTemplate ?? null,
    }),
  );
  return dir;
}

// biome-ignore lint/suspicious/noExplicitAny: the command's JSON
function generate(...args: string[]): Record<string, any> {
  const r = cli('generate', '--model', model, ...args, ...greedy);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('reft-studio generate with several adapters', () => {
  let A: string; // LoReFT on layers 0 and 3, last position
  let B: string; // DiReFT on layer 1, last 3 positions
  before(() => {
    A = studioFolder('a', 'llama-loreft-l1-shared', 'l1');
    B = studioFolder('b', 'llama-direft', 'l3');
  });

  it("equals the engine's composition of the same adapters at the same strengths", async () => {
    const out = generate('--adapter', A, '--scale', '1.5', '--adapter', B, '--scale', '0.5');
    const runner = await ModelRunner.loadComposed(model, [
      { dir: A, name: 'a', scale: 1.5 },
      { dir: B, name: 'b', scale: 0.5 },
    ]);
    try {
      const [r] = await runner.generate([prompt], { greedy: true, maxNewTokens: 6, chat: 'auto' });
      assert.deepEqual(out.tokens, r.ids);
    } finally {
      await runner.release();
    }
    assert.deepEqual(out.adapters, [
      { dir: A, scale: 1.5 },
      { dir: B, scale: 0.5 },
    ]);
    // The strengths and the second adapter change the answer (else this test proves nothing).
    assert.notDeepEqual(out.tokens, generate('--adapter', A).tokens);
    assert.notDeepEqual(out.tokens, generate('--adapter', A, '--adapter', B).tokens);
  });

  it('one --adapter loads as it always has; at --scale 1 it is the same adapter', () => {
    const alone = generate('--adapter', A);
    assert.equal(alone.adapters, undefined);
    assert.equal(alone.adapter, A);
    assert.deepEqual(generate('--adapter', A, '--scale', '1').tokens, alone.tokens);
    // Strength 0 everywhere is the base model.
    const base = generate().tokens;
    assert.notDeepEqual(alone.tokens, base);
    assert.deepEqual(generate('--adapter', A, '--scale', '0', '--adapter', B, '--scale', '0').tokens, base);
  });

  it('a --scale per --adapter or none; each a number ≥ 0 (usage errors, before the model loads)', () => {
    const gone = ['--model', '/nonexistent/model', '--prompt', 'hi'];
    const count = cli('generate', ...gone, '--adapter', A, '--adapter', B, '--scale', '0.5');
    assert.equal(count.status, 2);
    assert.equal(
      count.stderr,
      'error: generate: give one --scale per --adapter, in the same order (got 2 --adapter and 1 --scale)\n',
    );
    for (const bad of ['-1', 'strong', '', 'Infinity']) {
      const r = cli('generate', ...gone, '--adapter', A, `--scale=${bad}`);
      assert.equal(r.status, 2);
      assert.equal(r.stderr, `error: generate: --scale must be a number ≥ 0 (got "${bad}")\n`);
    }
  });

  it('an adapter for another base model, or one given twice, is one line', () => {
    const other = studioFolder('other', 'qwen2-loreft-f1l1', 'f1+l1', { base: 'qwen2' });
    const r = cli('generate', '--model', model, '--adapter', A, '--adapter', other, '--prompt', 'hi');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^error: adapter ".*other" was trained for base model \(qwen2, fingerprint [0-9a-f]+…\), not for model .*; pass --force-base to apply it anyway to a model of the same shape\n$/,
    );
    // The same --adapter twice is bad usage, said before anything is opened (a model that is not there).
    const twice = cli(
      'generate',
      '--model',
      '/nonexistent/model',
      '--adapter',
      A,
      '--adapter',
      A,
      '--prompt',
      'hi',
    );
    assert.equal(twice.status, 2);
    assert.equal(
      twice.stderr,
      `error: generate: --adapter ${JSON.stringify(A)} is given twice; give each adapter once (--scale sets its strength)\n`,
    );
    // Two words for one folder are known to be one only once the folder is found (exit 1); it
    // was composed twice in silence, as the engine compares the words.
    const same = cli('generate', '--model', model, '--adapter', A, '--adapter', `${A}/`, '--prompt', 'hi');
    assert.equal(same.status, 1);
    assert.equal(same.stderr, `error: adapter "${A}/" is given twice (as "${A}" too)\n`);
  });

  it('--positions and --force-base without an --adapter are bad usage, not passed over', () => {
    for (const flags of [['--positions', 'f1+l1'], ['--force-base']]) {
      const r = cli('generate', '--model', model, '--prompt', 'hi', ...flags);
      assert.equal(r.status, 2, flags.join(' '));
      assert.equal(r.stderr, `error: generate: ${flags[0]} needs --adapter (it applies to an adapter)\n`);
      assert.equal(r.stdout, '');
    }
  });

  it('adapters trained on differently formatted prompts are refused unless --chat chooses the format', () => {
    const chatA = studioFolder('chat-a', 'llama-loreft-l1-shared', 'l1', { promptTemplate: 'chat' });
    const r = cli('generate', '--model', model, '--adapter', chatA, '--adapter', B, '--prompt', 'hi');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `error: adapter "${chatA}" was trained through the chat template and "${B}" on plain prompts, so no prompt format suits both: compose adapters trained alike, or pass --chat to format the prompt through the chat template for every adapter\n`,
    );
    const chosen = cli('generate', '--model', model, '--adapter', chatA, '--adapter', B, '--chat', ...greedy);
    assert.equal(chosen.status, 0, chosen.stderr);
  });

  it('the Playground, which loads before it knows the format, is refused only where it would guess', async () => {
    const chatA = join(root, 'chat-a');
    const runner = await ModelRunner.loadComposed(model, [
      { dir: chatA, name: 'a', scale: 1 },
      { dir: B, name: 'b', scale: 1 },
    ]);
    try {
      await assert.rejects(runner.generate(['hi'], { maxNewTokens: 2, chat: 'auto' }), {
        code: 'prompt-template-conflict',
      });
      const [plain] = await runner.generate(['hi'], { maxNewTokens: 2, chat: false });
      assert.ok(plain.tokens >= 1);
      const [chat] = await runner.generate([{ messages: [{ role: 'user', content: 'hi' }] }], {
        maxNewTokens: 2,
      });
      assert.ok(chat.tokens >= 1);
    } finally {
      await runner.release();
    }
  });

  it('--positions fills in for the pyreft folders that do not record theirs', () => {
    const bare = join(REFT, 'llama-direft', 'pyreft_final');
    const missing = cli('generate', '--model', model, '--adapter', A, '--adapter', bare, '--prompt', 'hi');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error: .*does not record its positions.*pass --positions/);
    // A keeps its own l1; the bare folder takes l3: the same as B, which records l3.
    assert.deepEqual(
      generate('--adapter', A, '--adapter', bare, '--positions', 'l3').tokens,
      generate('--adapter', A, '--adapter', B).tokens,
    );
  });

  it('a --positions that is not understood is said as the flag, not as a converted manifest', () => {
    const bare = join(REFT, 'llama-direft', 'pyreft_final');
    for (const adapters of [[bare], [A, bare]]) {
      const r = cli(
        'generate',
        '--model',
        model,
        ...adapters.flatMap((a) => ['--adapter', a]),
        '--positions',
        'zz',
        '--prompt',
        'hi',
      );
      // Bad usage, as train's --positions: the command line alone shows it (positions-refusals.test.ts).
      assert.equal(r.status, 2);
      assert.equal(
        r.stderr,
        'error: --positions: "zz" is not understood: use "fN" (first N prompt tokens), "lM" (last M) or "fN+lM", e.g. "f1+l1"\n',
      );
    }
  });
});
