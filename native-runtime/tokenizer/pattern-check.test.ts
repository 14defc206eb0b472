import assert from 'node:assert/strict';
import fs, { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
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

test('checkTokenizerFile reads only the part before the vocabulary, wherever a read chunk ends', () => {
  // Bug: it read and decoded the whole file, vocabulary included (10 MB: 0.3-1 s of a scan, per model).
  const root = tempDir('reft-tokenizer-head-');
  const fixture = JSON.parse(readFileSync(join(modelDir('llama'), 'tokenizer.json'), 'utf8'));
  const vocab = { ...fixture.model.vocab };
  for (let i = 0; i < 100_000; i++) vocab[`Ġ语${i}tok`] = 1000 + i;
  const big = { ...fixture, model: { ...fixture.model, vocab } };
  const bytesRead = (json: string): number => {
    const dir = join(root, `case-${readdirSync(root).length}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'tokenizer.json'), json);
    const readSync = fs.readSync;
    let n = 0;
    // biome-ignore lint/suspicious/noExplicitAny: readSync's overloads, passed through
    (fs as any).readSync = (...args: any[]) => {
      const got = (readSync as (...a: unknown[]) => number)(...args);
      n += got;
      return got;
    };
    syncBuiltinESMExports();
    try {
      checkTokenizerFile(dir);
    } finally {
      fs.readSync = readSync;
      syncBuiltinESMExports();
    }
    return n;
  };
  const text = JSON.stringify(big, null, 2);
  assert.ok(text.length > 2_000_000);
  assert.ok(bytesRead(text) < 100_000, 'only the first chunk');
  // `"model"`, its spaces or its colon cut by the end of the first 64 KiB read, at every byte.
  const at = text.indexOf('"model"');
  const before = Buffer.byteLength(text.slice(0, at));
  for (let cut = 0; cut <= 12; cut++) {
    // "model" starts at byte 65524 + cut: 12 bytes `"model" \n :` end at 65536 when cut is 0.
    const pad = 'x'.repeat(65524 + cut - before - '"pad": "'.length - '",\n  '.length);
    const padded = `${text.slice(0, at)}"pad": "${pad}",\n  "model" \n :${text.slice(at + '"model":'.length)}`;
    assert.equal(Buffer.byteLength(padded.slice(0, padded.indexOf('"model"'))), 65524 + cut);
    assert.ok(bytesRead(padded) < 300_000, `cut ${cut}`);
  }
  // Vocabulary first: read whole, and still checked (the test above).
  const { model, ...parts } = big;
  const modelFirst = JSON.stringify({ model, ...parts });
  assert.ok(bytesRead(modelFirst) >= Buffer.byteLength(modelFirst));
});
