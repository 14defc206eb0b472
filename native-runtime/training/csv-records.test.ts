import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CsvRecord, csvRecords, parseCsv } from './csv-records.ts';
import { rawRowsScan, readRawRows } from './data-files.ts';

/**
 * The parser parseCsv replaced (it built each field a character at a time, about 3 MB/s), kept as
 * the reference: the scan must read any text as it did, records, fields and line numbers alike. One
 * fix since: a quoted field that ends the file without a line end (`""`) is a record, as with one; and
 * a quoted field that went on over lines and closed with text after it marks its record (closedLateOn).
 */
function referenceParse(text: string, delimiter: ',' | '\t'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let start = 1;
  let any = false;
  let fieldStart = true;
  let opened = 0; // the line the open quoted field started on
  let closedLateOn: CsvRecord['closedLateOn'];
  const endRecord = () => {
    fields.push(field);
    if (any || fields.length > 1 || fields[0] !== '')
      records.push(closedLateOn ? { line: start, fields, closedLateOn } : { line: start, fields });
    closedLateOn = undefined;
    fields = [];
    field = '';
    any = false;
    fieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const lineEnd = c === '\n' || (c === '\r' && text[i + 1] !== '\n');
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        inQuotes = false;
        const next = text[i + 1];
        if (line > opened && next !== undefined && next !== delimiter && next !== '\n' && next !== '\r')
          closedLateOn ??= { from: opened, to: line };
      } else {
        if (lineEnd) line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && fieldStart) {
      inQuotes = true;
      opened = line;
      any = true;
      fieldStart = false;
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
      fieldStart = true;
    } else if (lineEnd) {
      endRecord();
      line++;
      start = line;
    } else if (c !== '\r') {
      field += c;
      fieldStart = false;
    }
  }
  if (inQuotes) {
    fields.push(field);
    records.push({ line: start, fields, unclosedTo: /[\r\n]$/.test(text) ? line - 1 : line });
  } else if (any || field !== '' || fields.length) endRecord();
  return records;
}

/** A seeded generator, so that a failure names an input that reproduces it. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

test('parseCsv: quirks of real files read as before (quotes mid-field, lone \\r, blank lines, unclosed quotes)', () => {
  const cases: [string, ',' | '\t', CsvRecord[]][] = [
    ['a,b', ',', [{ line: 1, fields: ['a', 'b'] }]],
    [
      'a,b\n\n\n1,2\n\n',
      ',',
      [
        { line: 1, fields: ['a', 'b'] },
        { line: 4, fields: ['1', '2'] },
      ],
    ],
    [
      'a\n""\n',
      ',',
      [
        { line: 1, fields: ['a'] },
        { line: 2, fields: [''] },
      ],
    ],
    // A last line without its line end reads as with it (before: `""` there was dropped).
    [
      'a\n""',
      ',',
      [
        { line: 1, fields: ['a'] },
        { line: 2, fields: [''] },
      ],
    ],
    [
      'a,b\n1,',
      ',',
      [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['1', ''] },
      ],
    ],
    [
      'a,b\n,\n',
      ',',
      [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['', ''] },
      ],
    ],
    [
      'p,c\n"x, ""y""\nz",w\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['x, "y"\nz', 'w'] },
      ],
    ],
    [
      'p,c\n"a"b,c\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['ab', 'c'] },
      ],
    ],
    // Over lines, then text after the closing quote: a quote was missing (the record says where).
    [
      'p,c\n"a\nb"c,d\ne,f\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['a\nbc', 'd'], closedLateOn: { from: 2, to: 3 } },
        { line: 4, fields: ['e', 'f'] },
      ],
    ],
    [
      'p\nHe said "hi",5" tall\n',
      ',',
      [
        { line: 1, fields: ['p'] },
        { line: 2, fields: ['He said "hi"', '5" tall'] },
      ],
    ],
    [
      'p,c\n "q",r\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: [' "q"', 'r'] },
      ],
    ],
    [
      'p,c\r"a\rb",c\rd,e\r',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['a\rb', 'c'] },
        { line: 4, fields: ['d', 'e'] },
      ],
    ],
    [
      'p,c\r\n"a\r\nb",c\r\nx\ry,z\r\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['a\r\nb', 'c'] },
        { line: 4, fields: ['x'] },
        { line: 5, fields: ['y', 'z'] },
      ],
    ],
    [
      'p,c\n1,2\n"open,3\n4,5\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['1', '2'] },
        { line: 3, fields: ['open,3\n4,5\n'], unclosedTo: 4 },
      ],
    ],
    [
      'p,c\n"open,3\n4,5',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['open,3\n4,5'], unclosedTo: 3 },
      ],
    ],
    [
      'p,c\n"a""b""""c",""\n',
      ',',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['a"b""c', ''] },
      ],
    ],
    [
      'p\tc\n"x\ty"\t"a,b"\nq\t\n',
      '\t',
      [
        { line: 1, fields: ['p', 'c'] },
        { line: 2, fields: ['x\ty', 'a,b'] },
        { line: 3, fields: ['q', ''] },
      ],
    ],
  ];
  for (const [text, delimiter, records] of cases) {
    assert.deepEqual(parseCsv(text, delimiter), records, JSON.stringify(text));
    assert.deepEqual(referenceParse(text, delimiter), records, `the reference: ${JSON.stringify(text)}`);
  }
});

test('parseCsv: random rows written as CSV/TSV (quotes, delimiters, newlines) read back, on their lines', () => {
  const rand = seeded(4180);
  const pieces = ['a', 'word', ' ', ',', '\t', '"', '""', '\n', '\r\n', '\r', 'é', '🙂', '5\' 11"', ''];
  for (const delimiter of [',', '\t'] as const) {
    for (let file = 0; file < 200; file++) {
      let text = '';
      let line = 1;
      const expected: CsvRecord[] = [];
      for (let r = Math.floor(rand() * 6); r >= 0; r--) {
        const row = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
          Array.from(
            { length: Math.floor(rand() * 5) },
            () => pieces[Math.floor(rand() * pieces.length)],
          ).join(''),
        );
        // Quoted when it must be (or a row of one empty field, else a blank line), and at random.
        const cell = (f: string) =>
          /["\r\n,\t]/.test(f) || (row.length === 1 && f === '') || rand() < 0.3
            ? `"${f.replaceAll('"', '""')}"`
            : f;
        const ending = ['\n', '\r\n', '\r'][Math.floor(rand() * 3)];
        expected.push({ line, fields: row });
        const written = row.map(cell).join(delimiter) + ending;
        line += written.split(/\r\n|\r|\n/).length - 1;
        text += written;
      }
      assert.deepEqual(parseCsv(text, delimiter), expected, JSON.stringify(text));
    }
  }
});

test('parseCsv: any text, well-formed or not, reads as the reference parser reads it', () => {
  const rand = seeded(7);
  const pieces = ['a', 'b', ' ', ',', '\t', '"', '"', '""', '\n', '\r', '\r\n', 'é'];
  for (let k = 0; k < 20_000; k++) {
    const text = Array.from(
      { length: Math.floor(rand() * 24) },
      () => pieces[Math.floor(rand() * pieces.length)],
    ).join('');
    for (const delimiter of [',', '\t'] as const)
      assert.deepEqual(parseCsv(text, delimiter), referenceParse(text, delimiter), JSON.stringify(text));
  }
});

test('parseCsv: a large CSV of long quoted fields reads back whole', () => {
  // 10,000 rows (8 MB) of long fields, quoted with doubled quotes and a newline, and unquoted. (Its
  // speed is not timed here, by the project's rule: speed is measured in benchmarks, not tests.)
  const question = (i: number) => `Question ${i}: what is ""${i}, plus ${i}""? `.repeat(12);
  const row = (i: number) => `"${question(i)}\nExplain.",${'It is doubling it. '.repeat(15)},${i}`;
  const text = `prompt,completion,id\n${Array.from({ length: 10_000 }, (_, i) => row(i)).join('\r\n')}\n`;
  const records: CsvRecord[] = parseCsv(text, ',');
  assert.equal(records.length, 10_001);
  assert.deepEqual(records[10_000], {
    line: 2 * 10_000,
    fields: [`${question(9999).replaceAll('""', '"')}\nExplain.`, 'It is doubling it. '.repeat(15), '9999'],
  });
});

test('csvRecords pauses every 1000 records, and rawRowsScan also every 1000 rows', () => {
  // The studio's 'files' process runs the reading in time slices at these pauses
  // (tests/backend/import-off-loop.test.ts): read at once, a 25 MB file held it for a second.
  const text = `prompt,completion\n${Array.from({ length: 5000 }, (_, i) => `"q, ${i}",a${i}`).join('\n')}\n`;
  const pauses = (scan: Generator<void, unknown>) => {
    let n = 0;
    while (!scan.next().done) n++;
    return n;
  };
  assert.equal(pauses(csvRecords(text, ',')), 5); // 5001 records
  assert.equal(pauses(rawRowsScan('qa.csv', text)), 10); // and 5000 rows
  const scan = rawRowsScan('qa.csv', text);
  let step = scan.next();
  while (!step.done) step = scan.next();
  assert.deepEqual(step.value, readRawRows('qa.csv', text));
  assert.deepEqual(step.value.raw[4999], { line: 5001, value: { prompt: 'q, 4999', completion: 'a4999' } });
});
