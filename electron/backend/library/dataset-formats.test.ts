import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../../native-runtime/errors.ts';
import { type DataFormat, readDataset } from '../../../native-runtime/training/data.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { parseDataset } from './dataset-formats.ts';
import { importDatasetFile } from './dataset-import.ts';
import { closeLibrary, openLibrary } from './library.ts';

test('JSONL: detects prompt/completion and reports every bad line by number', () => {
  const text = [
    '{"prompt": "a", "completion": "b"}',
    '',
    '{"prompt": "c", "completion": ',
    '{"prompt": "d", "completion": 5}',
    '[1, 2]',
    '{"prompt": "e", "completion": "f"}',
    '{"instruction": "x", "output": "y"}',
  ].join('\n');
  const r = parseDataset('data.jsonl', text);
  assert.equal(r.format, 'prompt-completion');
  assert.deepEqual(r.rows, [
    { prompt: 'a', completion: 'b' },
    { prompt: 'e', completion: 'f' },
  ]);
  assert.deepEqual(
    r.bad.map((b) => b.line),
    [3, 4, 5, 7],
  );
  assert.match(r.bad[0].message, /not valid JSON/);
  assert.match(r.bad[1].message, /"completion" must be a string/);
  assert.equal(r.bad[3].message, 'is alpaca but line 1 is prompt-completion; a dataset holds one format');
});

test("auto format: a row of another format is left out, never read as the first row's format", () => {
  // Before: the alpaca row became {prompt: "hello", completion: "bonjour"}, its instruction lost.
  const r = parseDataset(
    'mixed.jsonl',
    '{"prompt":"a","completion":"b"}\n{"instruction":"Translate","input":"hello","output":"bonjour"}\n',
  );
  assert.deepEqual(r.rows, [{ prompt: 'a', completion: 'b' }]);
  assert.deepEqual(
    r.bad.map((b) => [b.line, b.message]),
    [[2, 'is alpaca but line 1 is prompt-completion; a dataset holds one format']],
  );
  // A format the user gives is theirs: rows are read as it says.
  assert.equal(parseDataset('x.jsonl', '{"input":"q","output":"a"}', 'prompt-completion').rows.length, 1);
});

test('alpaca and chat are detected; chat needs an assistant turn', () => {
  const alpaca = parseDataset(
    'a.jsonl',
    '{"instruction":"i","output":"o"}\n{"instruction":"i","input":"x","output":"o"}\n',
  );
  assert.equal(alpaca.format, 'alpaca');
  assert.deepEqual(alpaca.rows[0], { instruction: 'i', input: '', output: 'o' });
  const chat = parseDataset(
    'c.jsonl',
    [
      JSON.stringify({
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'yo' },
        ],
      }),
      JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      JSON.stringify({ messages: [{ role: 'wizard', content: 'hi' }] }),
    ].join('\n'),
  );
  assert.equal(chat.format, 'chat');
  assert.equal(chat.rows.length, 1);
  assert.deepEqual(
    chat.bad.map((b) => [b.line, b.message.includes('assistant') || b.message.includes('role')]),
    [
      [2, true],
      [3, true],
    ],
  );
});

test('JSON array: rows report the line they start on', () => {
  const text =
    '[\n  {"prompt": "a", "completion": "b"},\n  {"prompt": "}{", "completion": 3},\n  {\n    "prompt": "c"\n  }\n]';
  const r = parseDataset('d.json', text);
  assert.equal(r.kind, 'json');
  assert.equal(r.rows.length, 1);
  assert.deepEqual(
    r.bad.map((b) => b.line),
    [3, 4],
  );
});

test('JSON: an object holding the rows in one list, or one row, pretty-printed', () => {
  // Before: read as JSON Lines, so every line of the file was "not valid JSON".
  const rows = [
    { prompt: 'a', completion: 'b' },
    { prompt: 'c', completion: 5 },
  ];
  const keyed = parseDataset('k.json', JSON.stringify({ version: '1.0', data: rows }, null, 2));
  assert.equal(keyed.kind, 'json');
  assert.deepEqual(keyed.rows, [rows[0]]);
  assert.deepEqual(
    keyed.bad.map((b) => b.line),
    [8],
    'the bad row is named by the line it starts on',
  );
  // The same on one line (before: one row whose only column was "data").
  assert.deepEqual(parseDataset('k.json', `${JSON.stringify({ data: [rows[0]] })}\n`).rows, [rows[0]]);
  assert.deepEqual(parseDataset('one.json', JSON.stringify(rows[0], null, 2)).rows, [rows[0]]);
  const chat = {
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'yo' },
    ],
  };
  assert.deepEqual(parseDataset('chat.json', JSON.stringify(chat, null, 2)).rows, [chat]);
  assert.throws(
    () => parseDataset('splits.json', JSON.stringify({ train: rows, test: rows }, null, 2)),
    (e: FormatError) =>
      e.code === 'bad-json' &&
      e.message ===
        'splits.json: the object holds several lists (train, test); a .json dataset is an array of rows, JSON Lines, or an object with one list of rows',
  );
  // Written by hand: the list opened on the first line, a row on each line after it.
  const byHand = `{"data": [\n  ${JSON.stringify(rows[0])},\n  ${JSON.stringify(rows[0])}\n]}\n`;
  assert.deepEqual(parseDataset('h.json', byHand).rows, [rows[0], rows[0]]);
  // JSON Lines in a .json file stay JSON Lines, a broken first line included.
  const lines = parseDataset('l.json', '{"prompt": "a", "completion": \n{"prompt":"c","completion":"d"}\n');
  assert.equal(lines.kind, 'jsonl');
  assert.deepEqual(lines.rows, [{ prompt: 'c', completion: 'd' }]);
  assert.deepEqual(
    lines.bad.map((b) => b.line),
    [1],
  );
});

test('JSON: one pretty-printed row whose column is a list stays one row, mapped or not', async () => {
  // Before: the row's list was taken for the rows it held. A conversation under another name was
  // read as rows of {role, content}, and the error offered "--map prompt=role --map completion=content",
  // which imported each message as a prompt/completion pair; a row with a list beside its columns
  // lost them, so its mapping named columns "the file does not have".
  const turns = [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'yo' },
  ];
  const convo = JSON.stringify({ convo: turns }, null, 2);
  assert.deepEqual(parseDataset('c.json', convo, 'auto', { messages: 'convo' }).rows, [{ messages: turns }]);
  assert.throws(
    () => parseDataset('c.json', convo),
    (e: FormatError) =>
      e.code === 'unknown-dataset-format' &&
      e.message === 'c.json: cannot tell the format (columns: convo); "convo" holds a conversation' &&
      JSON.stringify(e.details) === '{"columns":["convo"],"mapping":{"messages":"convo"}}',
    "unmapped, the error names the row's own column and what to map it to",
  );
  const qa = JSON.stringify({ q: 'hi', a: 'yo', refs: ['x', 'y'] }, null, 2);
  assert.deepEqual(parseDataset('qa.json', qa, 'auto', { prompt: 'q', completion: 'a' }).rows, [
    { prompt: 'hi', completion: 'yo' },
  ]);
  assert.throws(
    () => parseDataset('qa.json', qa),
    (e: FormatError) => e.code === 'unknown-dataset-format' && /\(columns: q, a, refs\)/.test(e.message),
  );
  // A chat row with a prompt/completion mapping it does not use is still the chat row.
  const chat = JSON.stringify({ messages: turns }, null, 2);
  assert.deepEqual(parseDataset('m.json', chat, 'auto', { prompt: 'question', completion: 'answer' }).rows, [
    { messages: turns },
  ]);
  // The import reads the file with the same mapping (dataset-import.ts passes it on): a list of
  // objects beside the columns is the row's only when the mapping says which columns it reads.
  const dir = tempDir('reft-json-one-row-');
  const lib = openLibrary(join(dir, 'lib'));
  try {
    const path = join(dir, 'qa.json');
    writeFileSync(path, JSON.stringify({ q: 'hi', a: 'yo', refs: [{ url: 'x' }] }, null, 2));
    const r = await importDatasetFile(lib, { path, mapping: { prompt: 'q', completion: 'a' } });
    assert.equal(r.version.rowCount, 1);
    assert.equal(r.version.format, 'prompt-completion');
  } finally {
    closeLibrary(lib);
  }
});

test('CSV: header, quoted commas/newlines, and a short row reported by line', () => {
  const text = 'prompt,completion\n"Hello, you","Line one\nline two"\nonly-one-field\nq,"say ""hi"""\n';
  const r = parseDataset('d.csv', text);
  assert.equal(r.format, 'prompt-completion');
  assert.deepEqual(r.rows, [
    { prompt: 'Hello, you', completion: 'Line one\nline two' },
    { prompt: 'q', completion: 'say "hi"' },
  ]);
  assert.deepEqual(r.bad, [{ line: 4, message: 'has 1 fields, the header has 2', text: 'only-one-field' }]);
});

test('an explicit format overrides detection; an unrecognisable file is a FormatError', () => {
  const r = parseDataset('x.jsonl', '{"prompt":"a","completion":"b"}\n', 'alpaca');
  assert.equal(r.rows.length, 0);
  assert.equal(r.bad.length, 1);
  assert.throws(
    () => parseDataset('x.jsonl', '{"text":"a"}\n'),
    (e: unknown) => e instanceof FormatError && e.code === 'unknown-dataset-format',
  );
});

test('error messages never quote the file; a bad row keeps its text only to show it (issue 13)', () => {
  assert.throws(
    () => parseDataset('x.json', '[{"prompt": "a", "completion": "b"}, hunter2-secret]'),
    (e: unknown) =>
      e instanceof FormatError && /not valid JSON/.test(e.message) && !/hunter2/.test(e.message),
  );
  const r = parseDataset('x.jsonl', '{"prompt": "a", "completion": "b"}\nhunter2-secret\n');
  assert.equal(r.bad.length, 1);
  assert.doesNotMatch(r.bad[0].message, /hunter2/);
  assert.equal(r.bad[0].text, 'hunter2-secret');
});

test('auto format: a file whose rows are all broken JSON names the first bad line; an empty file says so', () => {
  const broken = (text: string) =>
    assert.throws(
      () => parseDataset('data.jsonl', text),
      (e: FormatError) => {
        assert.equal(e.code, 'bad-json');
        assert.match(e.message, /^data\.jsonl:2: not valid JSON \(.+\)( \(and 1 more bad row\))?$/);
        return true;
      },
    );
  broken('\n{"prompt": "a", "completion": \n{"prompt": ');
  // One line that is not JSON Lines is one JSON document, broken.
  assert.throws(
    () => parseDataset('data.json', '{"prompt":'),
    (e: FormatError) =>
      e.code === 'bad-json' && e.message === 'data.json: not valid JSON (unexpected end of input)',
  );
  for (const empty of ['', '\n \n'])
    assert.throws(
      () => parseDataset('data.jsonl', empty),
      (e: FormatError) => e.code === 'empty-dataset' && e.message === 'data.jsonl: no rows in the file',
    );
});

test('a broken JSON array names its file, as a broken JSONL line does', () => {
  assert.throws(
    () => parseDataset('rows.json', '[{"prompt": "a", "completion": "b"},\n{"prompt": '),
    (e: FormatError) =>
      e.code === 'bad-json' && e.message === 'rows.json: not valid JSON (unexpected end of input)',
  );
});

test('CSV: a quote never closed is reported where it opened, saying the rest of the file is inside it', () => {
  const r = parseDataset('d.csv', 'prompt,completion\na,b\n"open,x\nc,d\ne,f\n');
  assert.deepEqual(r.rows, [{ prompt: 'a', completion: 'b' }]);
  assert.equal(r.bad.length, 1);
  assert.equal(r.bad[0].line, 3);
  assert.match(r.bad[0].message, /^a quote opened on line 3 is never closed: lines 3–5 are inside it$/);
});

test('CSV: a quote closed only lines later, with text after it, is a bad row, not rows silently joined', () => {
  // Before: `"what is up,…` (its closing quote missing) ran on to the quote that opens `"fine, matey"`
  // three lines on, and read lines 3–6 as one row, "Every line was accepted". A quoted field that
  // goes on over lines and closes with text after it is a missing quote, not a field.
  const text =
    'prompt,completion\nhello,ahoy\n"what is up,not closed\nbye,now\nhi,there\nhow are you,"fine, matey"\nlast,one\n';
  const r = parseDataset('d.csv', text);
  assert.deepEqual(r.rows, [
    { prompt: 'hello', completion: 'ahoy' },
    { prompt: 'last', completion: 'one' },
  ]);
  assert.equal(r.bad.length, 1);
  assert.equal(r.bad[0].line, 3);
  assert.equal(
    r.bad[0].message,
    'a quote opened on line 3 closes only on line 6, with text after it: lines 3–6 would be one field. Close the quote on line 3 (a quote inside a quoted field is written twice: "")',
  );
  // Quoted text over lines that closes where a field ends, and `"a"b` on one line, read as before.
  const ok = parseDataset('ok.csv', 'prompt,completion\n"two\nlines",x\n"a"b,c\n');
  assert.deepEqual(ok.rows, [
    { prompt: 'two\nlines', completion: 'x' },
    { prompt: 'ab', completion: 'c' },
  ]);
  assert.deepEqual(ok.bad, []);
});

test('JSONL: a line that is not JSON says which character was unexpected, not "(malformed JSON)"', () => {
  // Before: "not valid JSON (malformed JSON)" for a missing value or a bare word: V8's message there
  // has no position, and the reason said nothing the first words had not.
  const r = parseDataset(
    'd.jsonl',
    '{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": }\nnope\n',
  );
  assert.deepEqual(
    r.bad.map((b) => [b.line, b.message]),
    [
      [2, "not valid JSON (unexpected '}')"],
      [3, "not valid JSON (unexpected 'o')"],
    ],
  );
});

test('CSV: a quote opened on the last line says so, not "lines 14–14"', () => {
  const r = parseDataset('d.csv', 'prompt,completion\na,b\n"open,x\n');
  assert.equal(r.bad.length, 1);
  assert.equal(r.bad[0].message, 'a quote opened on line 3 is never closed: the file ends on that line');
});

test('CSV: a last line of one quoted field, without a line end, is read as with one', () => {
  // Before: without the file's last newline, `""` was dropped silently (with it, a bad row: line 3).
  for (const text of ['prompt,completion\na,b\n""', 'prompt,completion\na,b\n""\n']) {
    const r = parseDataset('end.csv', text);
    assert.deepEqual(r.rows, [{ prompt: 'a', completion: 'b' }]);
    assert.deepEqual(
      r.bad,
      [{ line: 3, message: 'has 1 fields, the header has 2', text: '' }],
      JSON.stringify(text),
    );
  }
});

test("CSV: a quote inside an unquoted field is text, as Python's csv reads it", () => {
  // Before: "He said hi to me" (quotes dropped) and `5" tall` opened a quote that swallowed the
  // rest of the file.
  const r = parseDataset('q.csv', 'prompt,completion\nHe said "hi" to me,ok\nSay 5" tall,fine\n"ab"c,d\n');
  assert.deepEqual(r.rows, [
    { prompt: 'He said "hi" to me', completion: 'ok' },
    { prompt: 'Say 5" tall', completion: 'fine' },
    { prompt: 'abc', completion: 'd' },
  ]);
  assert.deepEqual(r.bad, []);
});

test('TSV: tab-separated columns, quotes as in CSV; a comma is text', () => {
  // Before: read as CSV, so the header was one column "prompt\tcompletion" and every row that held
  // a comma was "has 2 fields, the header has 1".
  const text = 'prompt\tcompletion\nhello, world\tok\n"two\nlines"\t"a ""quoted"" tab\t"\n';
  const r = parseDataset('d.tsv', text);
  assert.equal(r.kind, 'tsv');
  assert.deepEqual(r.rows, [
    { prompt: 'hello, world', completion: 'ok' },
    { prompt: 'two\nlines', completion: 'a "quoted" tab\t' },
  ]);
  assert.deepEqual(r.bad, []);
});

test("CSV: a lone \\r ends a line, as Python's csv reads it; CRLF inside quotes is kept", () => {
  // Before: a classic Mac file was one long header ("no rows in the file"), and "x\ry" became "xy".
  assert.deepEqual(parseDataset('mac.csv', 'prompt,completion\ra,b\rc,d\r').rows, [
    { prompt: 'a', completion: 'b' },
    { prompt: 'c', completion: 'd' },
  ]);
  const r = parseDataset('cr.csv', 'prompt,completion\r\n"a\r\nb",c\r\nx\ry,z\r\n');
  assert.deepEqual(r.rows, [
    { prompt: 'a\r\nb', completion: 'c' },
    { prompt: 'y', completion: 'z' },
  ]);
  assert.deepEqual(r.bad, [{ line: 4, message: 'has 1 fields, the header has 2', text: 'x' }]);
});

test('CSV: columns without a name (a spreadsheet\'s trailing commas) are left out, not "named twice"', () => {
  // Before: refused as 'the header names "" twice'.
  const r = parseDataset('xl.csv', 'prompt,completion,,\r\na,b,,\r\nc,d,,\r\n');
  assert.deepEqual(r.rows, [
    { prompt: 'a', completion: 'b' },
    { prompt: 'c', completion: 'd' },
  ]);
  assert.throws(
    () => parseDataset('q.csv', 'question,answer,,\na,b,,\n'),
    (e: FormatError) => e.message.includes('(columns: question, answer)'),
  );
});

test('CSV: a header that names a column twice is refused (one of the two would be dropped)', () => {
  assert.throws(
    () => parseDataset('d.csv', 'prompt,prompt,completion\na,b,c\n'),
    (e: FormatError) => e.code === 'bad-csv' && e.message === 'd.csv: the header names "prompt" twice',
  );
});

test('one set of row rules: every row the library keeps, the trainer trains on', () => {
  const user = (content: string) => ({ role: 'user', content });
  const assistant = (content: string) => ({ role: 'assistant', content });
  const cases = {
    chat: [
      { messages: [user('hi'), assistant('yo')] },
      { messages: [user('hi'), assistant('yo'), user('and?')] }, // ends without a reply
      { messages: [assistant('yo')] }, // a reply to nothing
      { messages: [user('hi'), assistant('')] },
    ],
    'prompt-completion': [
      { prompt: 'q', completion: 'a' },
      { prompt: '', completion: 'a' }, // nothing to condition on
      { input: 'q', output: 'a' }, // the same row under other names
    ],
    alpaca: [
      { instruction: 'do', output: 'done' },
      { instruction: '', output: 'done' },
    ],
  } as const;
  const dir = tempDir('reft-formats-');
  for (const [format, rows] of Object.entries(cases)) {
    const kept = parseDataset('d.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    assert.equal(kept.format, format);
    const file = join(dir, `${format}.jsonl`);
    writeFileSync(file, kept.rows.map((r) => JSON.stringify(r)).join('\n'));
    const read = readDataset(file, format as DataFormat);
    assert.equal(read.examples.length, kept.rows.length, format);
    assert.equal(kept.rows.length + kept.bad.length, rows.length);
  }
  assert.deepEqual(parseDataset('d.jsonl', '{"input":"q","output":"a"}').rows, [
    { prompt: 'q', completion: 'a' },
  ]);
});

test("a mapped column is named by the file's name in a row's message", () => {
  // Before: '"completion" must be a string', a column the file does not have.
  const r = parseDataset('m.jsonl', '{"q":"1+1?","ans":2}\n{"q":"2+2?","ans":"4"}\n', 'auto', {
    prompt: 'q',
    completion: 'ans',
  });
  assert.deepEqual(r.rows, [{ prompt: '2+2?', completion: '4' }]);
  assert.deepEqual(
    r.bad.map((b) => [b.line, b.message]),
    [[1, '"ans" (read as the completion) must be a string']],
  );
});

test('a mapping that names a column the file lacks says so, listing the file’s own columns', () => {
  const text = 'question,answer\nhi,there\n';
  // Before: "(columns: question, completion)" — the mapped name, not the file's, and no word on "nope".
  assert.throws(
    () => parseDataset('m.csv', text, 'auto', { prompt: 'nope', completion: 'answer' }),
    (e: FormatError) =>
      e.code === 'unknown-dataset-format' &&
      e.message === 'm.csv: no column "nope" to read the prompt from (columns: question, answer)',
  );
  assert.throws(
    () => parseDataset('m.csv', text, 'auto', { prompt: 'question' }),
    (e: FormatError) =>
      e.code === 'unknown-dataset-format' && e.message.includes('(columns: question, answer)'),
  );
});

test('a refusal lists the columns as data, whole, whatever their names hold', () => {
  // The window read them back out of "(columns: …)" split on ", ": a column "Q (asked, politely)"
  // came back as "Q (asked" and "politely". The message still names them for people.
  const csv = '"Q (asked, politely)","A, in full)"\nWhere?,Here.\n';
  assert.throws(
    () => parseDataset('odd.csv', csv),
    (e: FormatError) =>
      e.message ===
        'odd.csv: cannot tell which columns hold the prompt and the completion (columns: Q (asked, politely), A, in full))' &&
      JSON.stringify(e.details) ===
        JSON.stringify({
          columns: ['Q (asked, politely)', 'A, in full)'],
          mapping: { prompt: 'Q (asked, politely)', completion: 'A, in full)' },
        }),
  );
  // A mapping naming a column the file lacks: the columns to choose from, no mapping to suggest.
  assert.throws(
    () => parseDataset('odd.csv', csv, 'auto', { prompt: 'Q', completion: 'A, in full)' }),
    (e: FormatError) =>
      e.message.startsWith('odd.csv: no column "Q" to read the prompt from') &&
      JSON.stringify(e.details) === JSON.stringify({ columns: ['Q (asked, politely)', 'A, in full)'] }),
  );
});

test('a lone surrogate escape is refused naming its line; NUL, CR, U+2028 and the rest are kept exactly', () => {
  // Before: "\ud800" was kept, tokenized as U+FFFD, and an exported bundle failed in pyreft.
  const kept = 'nul\u0000 cr\r crlf\r\n ls\u2028 ps\u2029 tab\t bom\ufeff nfd e\u0301 👍🏽 end  ';
  const text = [
    JSON.stringify({ prompt: 'p', completion: kept }),
    '{"prompt": "q", "completion": "half \\ud800 of a pair"}',
    '{"messages": [{"role": "user", "content": "\\udc00"}, {"role": "assistant", "content": "a"}]}',
  ].join('\n');
  const r = parseDataset('data.jsonl', text, 'prompt-completion');
  assert.deepEqual(r.rows, [{ prompt: 'p', completion: kept }]);
  assert.equal(r.bad[0].line, 2);
  assert.equal(
    r.bad[0].message,
    '"completion" holds \\ud800, half of a UTF-16 surrogate pair without its other half, which is no character',
  );
  const chat = parseDataset('chat.jsonl', text.split('\n')[2], 'chat');
  assert.match(chat.bad[0].message, /^messages\[0\]\.content holds \\udc00, half of a UTF-16 surrogate pair/);
});
