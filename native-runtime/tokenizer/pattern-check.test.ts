import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backtrackingPattern, repeatsRepetition } from './pattern-check.ts';

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
