// Tokenizer.minTokens (token-count-bound.ts): never more than the tokens a text encodes to, for
// byte-level BPE tokenizers as GPT-2 and Llama 3 split words; no bound (0) where the pipeline can
// lose text.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir } from '../../tests/helpers/fixtures.ts';
import { tempDir } from '../../tests/helpers/temp.ts';
import { mulberry32 } from '../generation/sampling.ts';
import { nonWhitespaceBytes } from './token-count-bound.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';

/** The Llama fixture's tokenizer with tokenizer.json changed by `edit`. */
function editedTokenizer(edit: (json: Record<string, unknown>) => void): Tokenizer {
  const dir = join(tempDir('token-count-bound'), 'tok');
  cpSync(modelDir('llama'), dir, { recursive: true });
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  edit(json);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  return loadTokenizer(dir);
}

const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Texts of every kind a prompt holds: words, blanks of all sorts, accents, emoji, added tokens. */
function texts(): string[] {
  const pieces = [
    'a',
    'the',
    ' answer',
    'Ġ',
    ' ',
    '  ',
    '\t',
    '\n',
    '\r\n',
    '\u00a0',
    '\u3000',
    'é',
    'ß',
    '日本',
    '🙂',
    '\ud800',
    '<s>',
    '</s>',
    '<|user|>',
    '<|assistant|>',
    '<|assistant|',
    '1234',
    '?!',
    "'s",
  ];
  const rng = mulberry32(11);
  const out = [...pieces, '<|assistant|><|assistant|>', ' '.repeat(40), 'x'.repeat(40)];
  for (let i = 0; i < 400; i++) {
    const n = 1 + Math.floor(rng() * 12);
    out.push(Array.from({ length: n }, () => pieces[Math.floor(rng() * pieces.length)]).join(''));
  }
  return out;
}

test('minTokens never exceeds the tokens a text encodes to, and reaches them where one token is the most', () => {
  const fixture = loadTokenizer(modelDir('llama'));
  const llama3Split = editedTokenizer((j) => {
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  });
  for (const [name, tok] of [
    ['byte-level', fixture],
    ['Llama 3 split', llama3Split],
  ] as const) {
    for (const t of texts()) {
      const bound = tok.minTokens(t);
      for (const addSpecialTokens of [false, true])
        assert.ok(
          bound <= tok.encode(t, { addSpecialTokens }).length,
          `${name}: ${JSON.stringify(t)}: at least ${bound} tokens, encoded to ${tok.encode(t, { addSpecialTokens }).length}`,
        );
    }
    // The longest token (an added one) alone is one token, and the bound says so: not 2.
    assert.equal(tok.minTokens('<|assistant|>'), 1, name);
    assert.equal(tok.minTokens('<|assistant|>x'), 2, name);
    assert.equal(tok.minTokens(' \n\t'), 0, name);
  }
});

test("nonWhitespaceBytes counts as UTF-8 without JavaScript's whitespace, and stops at enough", () => {
  const all = [...texts(), '\u1680\u2000\u200a\u2028\u2029\u202f\u205f\ufeff\u0085x', '\udc00a\ud83d'];
  for (const t of all)
    assert.equal(nonWhitespaceBytes(t), Buffer.byteLength(t.replace(/\s/gu, '')), JSON.stringify(t));
  assert.equal(nonWhitespaceBytes('x'.repeat(10_000), 26), 26);
});

test('minTokens gives no bound where the tokenizer can drop or fuse text', () => {
  const cases: Array<[string, (j: Record<string, unknown>) => void]> = [
    ['a normalizer', (j) => (j.normalizer = { type: 'Strip', strip_left: true, strip_right: true })],
    [
      'a Split that removes',
      (j) =>
        (j.pre_tokenizer = {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Split', pattern: { String: 'x' }, behavior: 'Removed', invert: false },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
          ],
        }),
    ],
    ['fused unknowns', (j) => ((j.model as Record<string, unknown>).fuse_unk = true)],
    [
      'a byte missing from the vocabulary',
      (j) => delete ((j.model as Record<string, unknown>).vocab as Record<string, number>).x,
    ],
  ];
  for (const [name, edit] of cases) assert.equal(editedTokenizer(edit).minTokens('x'.repeat(100)), 0, name);
});
