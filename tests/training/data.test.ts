// Dataset reading (every format, auto-detection, broken lines) and tokenization (labels, chat
// template, truncation) on the llama fixture's byte-level tokenizer.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDataset } from '../../electron/backend/library/dataset-formats.ts';
import { ConfigError } from '../../native-runtime/errors.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { readDataset, tokenizeDataset, tokenizeExample } from '../../native-runtime/training/data.ts';
import type { PromptCompletionRow } from '../../native-runtime/training/data-formats.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { modelWithoutBos, tempDir, writeJsonl } from './helpers.ts';

const dir = tempDir();
const tok = loadTokenizer(modelDir('llama'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('readDataset: formats', () => {
  it('prompt/completion JSONL, blank lines skipped', () => {
    const p = file('pc.jsonl', '{"prompt": "a", "completion": "b"}\n\n{"prompt": "c", "completion": "d"}\n');
    const ds = readDataset(p);
    assert.equal(ds.format, 'prompt-completion');
    assert.deepEqual(ds.examples, [
      { line: 1, kind: 'text', prompt: 'a', completion: 'b' },
      { line: 3, kind: 'text', prompt: 'c', completion: 'd' },
    ]);
    assert.match(ds.hash, /^[0-9a-f]{64}$/);
  });
  it('input/output keys count as prompt/completion', () => {
    const ds = readDataset(writeJsonl(join(dir, 'io.jsonl'), [{ input: 'q', output: 'r' }]));
    assert.equal(ds.format, 'prompt-completion');
    assert.deepEqual(ds.examples[0], { line: 1, kind: 'text', prompt: 'q', completion: 'r' });
  });
  it('Alpaca as a JSON array: instruction + "\\n\\n" + input when input is non-empty', () => {
    const p = file(
      'alpaca.json',
      '[\n  {"instruction": "Add", "input": "1 2", "output": "3"},\n  {"instruction": "Greet", "input": "", "output": "hi"}\n]\n',
    );
    const ds = readDataset(p);
    assert.equal(ds.format, 'alpaca');
    assert.deepEqual(ds.examples, [
      { line: 2, kind: 'text', prompt: 'Add\n\n1 2', completion: '3' },
      { line: 3, kind: 'text', prompt: 'Greet', completion: 'hi' },
    ]);
  });
  it('chat: every message but the last is the prompt, the last assistant message the completion', () => {
    const rows = [
      {
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'U' },
          { role: 'assistant', content: 'A' },
        ],
      },
    ];
    const ds = readDataset(writeJsonl(join(dir, 'chat.jsonl'), rows));
    assert.equal(ds.format, 'chat');
    assert.deepEqual(ds.examples[0], {
      line: 1,
      kind: 'chat',
      messages: rows[0].messages.slice(0, 2),
      completion: 'A',
    });
  });
  it('an explicit --format must match the rows', () => {
    const p = writeJsonl(join(dir, 'pc2.jsonl'), [{ prompt: 'a', completion: 'b' }]);
    assert.throws(() => readDataset(p, 'chat'), {
      code: 'bad-data',
      message: /line 1: "messages" must be a non-empty array/,
    });
  });
  it('bytes that are not UTF-8 are refused naming the line, never read as U+FFFD', () => {
    // A spreadsheet's Windows-1252 "café" (0xE9): decoding it leniently trained on "caf\uFFFD".
    const p = join(dir, 'latin1.jsonl');
    writeFileSync(
      p,
      Buffer.concat([
        Buffer.from('{"prompt": "a", "completion": "b"}\n{"prompt": "caf'),
        Buffer.of(0xe9),
        Buffer.from('", "completion": "d"}\n'),
      ]),
    );
    assert.throws(() => readDataset(p), { code: 'bad-data', message: /line 2 is not UTF-8 text/ });
    const utf16 = join(dir, 'utf16.jsonl');
    writeFileSync(utf16, Buffer.from('\uFEFF{"prompt": "a", "completion": "b"}\n', 'utf16le'));
    assert.throws(() => readDataset(utf16), { code: 'bad-data', message: /line 1 is UTF-16 text/ });
    const ok = file('bom.jsonl', '\uFEFF{"prompt": "café 日本 😀", "completion": "e\u0301"}\n');
    assert.deepEqual(readDataset(ok).examples[0], {
      line: 1,
      kind: 'text',
      prompt: 'café 日本 😀',
      completion: 'e\u0301',
    });
  });
});

describe('readDataset: every kind of file the library imports (train --resume, bundles)', () => {
  // The rows the studio's import reads from the same file: one reader, the same rows.
  const libraryRows = (p: string, text: string) =>
    parseDataset(p, text).rows.map((r) => [
      (r as PromptCompletionRow).prompt,
      (r as PromptCompletionRow).completion,
    ]);
  const trained = (p: string) =>
    readDataset(p).examples.map((e) => [e.kind === 'text' && e.prompt, e.completion]);
  for (const [name, text] of [
    ['rows.tsv', 'prompt\tcompletion\nq1\ta1\nq2\ta2\n'],
    ['rows.csv', 'prompt,completion\n"q1, quoted",a1\nq2,a2\n'],
    [
      'holder.json',
      '{"data": [\n{"prompt": "q1", "completion": "a1"},\n{"prompt": "q2", "completion": "a2"}\n]}\n',
    ],
    ['one-row.json', '{\n  "prompt": "q1",\n  "completion": "a1"\n}\n'],
    ['list.jsonl', '[\n{"prompt": "q1", "completion": "a1"},\n{"prompt": "q2", "completion": "a2"}\n]\n'],
  ]) {
    it(name, () => {
      const p = file(name, text);
      const rows = trained(p);
      assert.ok(rows.length > 0);
      assert.deepEqual(rows, libraryRows(p, text));
    });
  }
  it('a CSV line with the wrong field count is refused naming its line, as the import words it', () => {
    const p = file('short.csv', 'prompt,completion\nq1,a1\nq2\n');
    assert.throws(() => readDataset(p), { message: `${p}: line 3: has 1 fields, the header has 2` });
  });
  it("a JSON object holding several lists: the import's refusal", () => {
    const text = '{"a": [{"prompt": "q", "completion": "c"}], "b": [{"prompt": "q", "completion": "c"}]}';
    const p = file('lists.json', text);
    assert.throws(() => parseDataset(p, text), { message: /holds several lists \(a, b\)/ });
    assert.throws(() => readDataset(p), { message: /holds several lists \(a, b\)/ });
  });
  it('Parquet (read asynchronously only) is refused in one line saying how to train on it', () => {
    const p = file('rows.parquet', 'PAR1');
    assert.throws(() => readDataset(p), {
      message: `${p}: a Parquet file is read by importing it (reft-studio datasets import FILE, then --data ID); here give JSONL, JSON, CSV or TSV`,
    });
  });
});

describe('readDataset: refusals name the file and line', () => {
  it('a line without a completion', () => {
    const p = file('nocomp.jsonl', '{"prompt": "a", "completion": "b"}\n{"prompt": "c"}\n');
    assert.throws(() => readDataset(p), {
      name: 'ConfigError',
      code: 'bad-data',
      message: /nocomp\.jsonl: line 2: no completion/,
    });
  });
  it('broken JSON, empty completions, wrong types — all reported, with line numbers', () => {
    const p = file(
      'broken.jsonl',
      '{"prompt": "a", "completion": "b"}\n{"prompt": "a", \n{"prompt": "x", "completion": ""}\n{"prompt": 3, "completion": "y"}\n',
    );
    assert.throws(
      () => readDataset(p),
      (e: Error & { code: string }) => {
        assert.equal(e.code, 'bad-data');
        assert.match(e.message, /line 2: not valid JSON/);
        assert.match(e.message, /line 3: the completion is empty/);
        assert.match(e.message, /line 4: "prompt" must be a string/);
        return true;
      },
    );
  });
  it('an Alpaca row without output, a chat row not ending with the assistant', () => {
    assert.throws(() => readDataset(writeJsonl(join(dir, 'a2.jsonl'), [{ instruction: 'x', input: 'y' }])), {
      message: /line 1: no completion/,
    });
    const chat = [
      {
        messages: [
          { role: 'assistant', content: 'A' },
          { role: 'user', content: 'U' },
        ],
      },
    ];
    assert.throws(() => readDataset(writeJsonl(join(dir, 'c2.jsonl'), chat)), {
      message: /line 1: no completion: the last message must be the assistant's reply/,
    });
  });
  it('mixed formats in one file', () => {
    const p = writeJsonl(join(dir, 'mixed.jsonl'), [
      { prompt: 'a', completion: 'b' },
      { instruction: 'i', output: 'o' },
    ]);
    assert.throws(() => readDataset(p), {
      code: 'mixed-formats',
      message: /line 2 is alpaca but line 1 is prompt-completion/,
    });
  });
  it('an empty file, a missing file, an unrecognised row', () => {
    assert.throws(() => readDataset(file('empty.jsonl', '\n\n')), {
      code: 'empty-dataset',
      message: /has no examples/,
    });
    assert.throws(() => readDataset(join(dir, 'nope.jsonl')), {
      code: 'missing-data',
      message: /nope\.jsonl: cannot read/,
    });
    assert.throws(() => readDataset(writeJsonl(join(dir, 'odd.jsonl'), [{ text: 'x' }])), {
      code: 'bad-data',
      message: /line 1: no completion/,
    });
  });
  it('reports at most five lines and counts the rest', () => {
    const p = file('many.jsonl', Array.from({ length: 8 }, () => '{"prompt": "a"}').join('\n'));
    assert.throws(() => readDataset(p), { message: /line 5: .*\(and 3 more\)$/ });
  });
});

describe('tokenizeExample', () => {
  const eos = tok.eosTokenId!;
  it('chat template for prompt/completion rows; labels only on completion + eos', () => {
    const t = tokenizeExample(
      tok,
      { line: 1, kind: 'text', prompt: 'hi', completion: 'yo' },
      { maxLength: 64, chatTemplate: 'auto', eosId: eos },
    );
    const prompt = tok.encodeChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
    assert.deepEqual(t.ids, [...prompt, ...tok.encode('yo', { addSpecialTokens: false }), eos]);
    assert.equal(t.promptLen, prompt.length);
    assert.equal(t.truncated, false);
  });
  it("chatTemplate 'none': the raw prompt with the tokenizer's special tokens (bos)", () => {
    const t = tokenizeExample(
      tok,
      { line: 1, kind: 'text', prompt: 'hi', completion: 'yo' },
      { maxLength: 64, chatTemplate: 'none', eosId: eos },
    );
    assert.deepEqual(t.ids.slice(0, t.promptLen), tok.encode('hi'));
    assert.equal(t.ids[0], tok.bosTokenId);
  });
  it('chat rows always use the template with the generation prompt', () => {
    const messages = [{ role: 'user', content: 'U' }];
    const t = tokenizeExample(
      tok,
      { line: 1, kind: 'chat', messages, completion: 'A' },
      { maxLength: 64, chatTemplate: 'none', eosId: eos },
    );
    assert.deepEqual(t.ids.slice(0, t.promptLen), tok.encodeChat(messages, { addGenerationPrompt: true }));
    assert.equal(t.ids.at(-1), eos);
  });
  it('truncation keeps the prompt’s end and at most the rest for the completion', () => {
    const ex = {
      line: 1,
      kind: 'text' as const,
      prompt: 'abcdefghijklmnopqrstuvwxyz '.repeat(3),
      completion: 'the end of the reply',
    };
    const full = tokenizeExample(tok, ex, { maxLength: 1000, chatTemplate: 'none', eosId: eos });
    const t = tokenizeExample(tok, ex, { maxLength: 20, chatTemplate: 'none', eosId: eos });
    assert.equal(t.ids.length, 20);
    assert.ok(t.truncated);
    assert.equal(t.promptLen, 10); // ⌈20/2⌉ prompt tokens when the completion is long enough
    assert.deepEqual(t.ids.slice(0, 10), full.ids.slice(full.promptLen - 10, full.promptLen));
    assert.deepEqual(t.ids.slice(10), full.ids.slice(full.promptLen, full.promptLen + 10));
    // A short completion is kept whole; the prompt gives way.
    const short = tokenizeExample(
      tok,
      { ...ex, completion: 'ok' },
      { maxLength: 20, chatTemplate: 'none', eosId: eos },
    );
    assert.equal(short.ids.length, 20);
    assert.equal(short.ids.at(-1), eos);
    assert.equal(short.promptLen, 20 - 3);
  });

  it('a prompt with no tokens is refused naming the file and the line', () => {
    // A tokenizer that strips whitespace (and adds no bos) turns a blank prompt into no tokens.
    const model = modelWithoutBos(join(dir, 'strip'), { type: 'Strip', strip_left: true, strip_right: true });
    const p = writeJsonl(join(dir, 'blank.jsonl'), [
      { prompt: 'What is one plus one?', completion: 'Two.' },
      { prompt: '   ', completion: 'Two.' },
    ]);
    assert.throws(
      () =>
        tokenizeDataset(
          loadTokenizer(model),
          readDataset(p),
          { maxLength: 64, chatTemplate: 'none', eosId: null },
          384,
        ),
      (e: Error) =>
        e instanceof ConfigError &&
        e.code === 'empty-prompt' &&
        e.message === `${p}: line 2: the prompt has no tokens`,
    );
  });
});

describe('readDataset: error messages never quote the file (issue 13)', () => {
  // V8's JSON.parse messages quote the start of the text ("hunter2-secret" is not valid JSON); a
  // dataset path can reach any file, so only the position may be reported.
  it('a JSON array and a JSONL line that are not JSON', () => {
    const arr = file('secret.json', '[{"prompt": "a", "completion": "b"}, hunter2-secret]');
    assert.throws(
      () => readDataset(arr),
      (e: unknown) => /not valid JSON/.test((e as Error).message) && !/hunter2/.test((e as Error).message),
    );
    const lines = file('secret.jsonl', '{"prompt": "a", "completion": "b"}\nhunter2-secret\n');
    assert.throws(
      () => readDataset(lines),
      (e: unknown) => /line 2/.test((e as Error).message) && !/hunter2/.test((e as Error).message),
    );
  });
});
