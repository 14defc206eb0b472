// An answer of several tokens with no text says why (native-runtime/generation/empty-answer.ts): the
// demo model has 640 embedding rows for 384 tokenizer ids, so sampling can pick ids that decode to
// nothing, as Llama 3's padded vocabulary and special tokens do on real models. The engine's reply
// carries the line (the Playground shows it, tests/e2e/playground-empty-reply.test.ts), and
// `generate` says it on stderr. Seeds fixed: seed 40 samples such tokens, seed 7 text.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { emptyAnswerNote } from '../../native-runtime/generation/empty-answer.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';

const DEMO = fileURLToPath(new URL('../../resources/demo/model', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const sampled = { chat: true, maxNewTokens: 4, temperature: 0.7 } as const;
const NOTE =
  "no text: the 4 tokens decode to nothing (3 ids past the tokenizer's 384: 444, 544, 504; 1 special token, left out of answers: <|user|>)";

describe('an answer whose tokens decode to nothing', () => {
  it('the engine says which tokens they were; an answer with text has no note', async () => {
    const runner = await ModelRunner.load(DEMO, null);
    try {
      const [empty] = await runner.generate(['Ahoy'], { ...sampled, seed: 40 });
      assert.equal(empty.text, '');
      assert.deepEqual(empty.ids, [444, 544, 4, 504]);
      assert.equal(empty.emptyNote, NOTE);
      const [said] = await runner.generate(['Ahoy'], { ...sampled, seed: 7 });
      assert.notEqual(said.text, '');
      assert.equal(said.emptyNote, null);
    } finally {
      await runner.release();
    }
  });

  it('names a lone special token, and a stop text the answer began with', () => {
    const tok = loadTokenizer(DEMO);
    const eos = tok.eosTokenId as number;
    assert.equal(
      emptyAnswerNote(tok, [eos], '', false),
      'no text: the 1 token decodes to nothing (1 special token, left out of answers: </s>)',
    );
    const ab = tok.encode('ab', { addSpecialTokens: false });
    assert.equal(
      emptyAnswerNote(tok, ab, '', true),
      `no text: the ${ab.length} tokens decode to nothing (${ab.length} tokens of the stop text it began with)`,
    );
    assert.equal(emptyAnswerNote(tok, ab, 'ab', false), null);
    assert.equal(emptyAnswerNote(tok, [], '', false), null);
  });

  it('generate says it on stderr (and in --json), and nothing when there is text', () => {
    const gen = (seed: string, ...flags: string[]) =>
      spawnSync(
        process.execPath,
        [
          BIN,
          ...flags,
          'generate',
          '--model',
          DEMO,
          '--prompt',
          'Ahoy',
          '--chat',
          '--max-new-tokens',
          '4',
          '--temperature',
          '0.7',
          '--seed',
          seed,
        ],
        { encoding: 'utf8' },
      );
    const empty = gen('40');
    assert.equal(empty.status, 0, empty.stderr);
    assert.equal(empty.stdout, '\n');
    assert.match(empty.stderr, new RegExp(`warning: ${NOTE.replace(/[()|^$.*+?[\]\\{}]/g, '\\$&')}`));
    const json = gen('40', '--json');
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).emptyNote, NOTE, 'a script reading stdout learns why too');
    const said = gen('7', '--json');
    assert.equal(said.status, 0, said.stderr);
    assert.doesNotMatch(said.stderr, /no text/);
    assert.equal(JSON.parse(said.stdout).emptyNote, null);
  });
});
