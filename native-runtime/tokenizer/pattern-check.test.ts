import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir } from '../../tests/helpers/fixtures.ts';
import { tempDir } from '../../tests/helpers/temp.ts';
import { backtrackingPattern, repeatsRepetition } from './pattern-check.ts';
import { checkTokenizerFile, loadTokenizer } from './tokenizer.ts';

// The Split patterns of widely used tokenizers (tokenizer.json as transformers writes it).
const IN_USE = {
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  llama3:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  o200k:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  deepseekCjk: '[一-龥\\u3040-ゟ゠-ヿ]+',
};

test('the patterns of tokenizers in use pass', () => {
  for (const [name, p] of Object.entries(IN_USE)) assert.equal(repeatsRepetition(p), false, name);
  assert.equal(repeatsRepetition('(ab)?c+[(+)]*\\(a+\\)+'), false, 'optional groups, classes and escapes');
});

test('a group that repeats a repetition is found, however it is written', () => {
  for (const p of ['(a+)+$', '(a*)*', '(?:\\w+\\s?)+$', '((a+))+', '(a{1,2})+$', '(a+){2,}', '(x|(y+))*?'])
    assert.equal(repeatsRepetition(p), true, p);
});

test('backtrackingPattern names where in tokenizer.json, through Sequences', () => {
  const split = (Regex: string) => ({ type: 'Split', pattern: { Regex }, behavior: 'Isolated' });
  assert.equal(
    backtrackingPattern({
      normalizer: { type: 'Replace', pattern: { String: '(a+)+' }, content: ' ' },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [split(IN_USE.llama3), split('(a+)+$')] },
    }),
    'pre_tokenizer.pretokenizers[1]',
  );
  assert.equal(
    backtrackingPattern({ decoder: { type: 'Replace', pattern: { Regex: '(\\s*)*' } } }),
    'decoder',
  );
  assert.equal(backtrackingPattern({ pre_tokenizer: split(IN_USE.gpt2) }), null);
});

test('checkTokenizerFile refuses what loading refuses, with the same line, in any key order', () => {
  const root = tempDir('reft-pattern-');
  const fixture = JSON.parse(readFileSync(join(modelDir('llama'), 'tokenizer.json'), 'utf8'));
  const folder = (name: string, json: Record<string, unknown> | string): string => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'tokenizer.json'),
      typeof json === 'string' ? json : JSON.stringify(json, null, 2),
    );
    return dir;
  };
  const loadError = (dir: string): string => {
    try {
      loadTokenizer(dir);
    } catch (e) {
      return `${(e as { code: string }).code}: ${(e as Error).message}`;
    }
    return 'loaded';
  };
  const checkError = (dir: string): string => {
    try {
      checkTokenizerFile(dir);
    } catch (e) {
      return `${(e as { code: string }).code}: ${(e as Error).message}`;
    }
    return 'loaded';
  };
  const hostile = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
  const { model, ...parts } = fixture;
  const cases = {
    // As the tokenizers library writes it: the vocabulary ("model") last.
    usual: { ...fixture, pre_tokenizer: hostile },
    // Hand-written, vocabulary first: the patterns come after "model".
    modelFirst: { model, ...parts, decoder: { type: 'Replace', pattern: { Regex: '(\\s*)*' }, content: '' } },
    // A token named "model" is not where the vocabulary starts.
    tokenNamedModel: {
      ...fixture,
      added_tokens: [{ id: 0, content: 'model', special: true }],
      pre_tokenizer: hostile,
    },
  };
  for (const [name, json] of Object.entries(cases)) {
    const dir = folder(name, json);
    assert.match(checkError(dir), /^tokenizer-pattern-refused: .*tokenizer\.json: the pattern of/, name);
    assert.equal(checkError(dir), loadError(dir), name);
  }
  assert.equal(checkError(modelDir('llama')), 'loaded');
  const broken = folder('broken', '{"version": "1.0", "model": {');
  assert.equal(checkError(broken), loadError(broken));
});
