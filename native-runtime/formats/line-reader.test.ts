// The line reader behind every big dataset file: read in tiny pieces here, so lines, CRLF, a BOM
// and multi-byte characters all cross piece boundaries (real pieces are 1 MB; files over 512 MB
// are what it is for, too big for CI).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { type FileLine, fileLines, fileLinesSync, lineTooLong, withoutBom } from './line-reader.ts';

const root = tempDir('reft-lines-');

function decoded(lines: FileLine[]): Array<string | null> {
  return lines.map((l) => (l.bytes ? withoutBom(l.bytes, l.n).toString('utf8') : null));
}

test('lines split across tiny pieces keep CRLF, a BOM, empty lines and split UTF-8 characters', async () => {
  const text = '\uFEFFé日😀 first\r\n\r\nsecond é日😀é日😀\nlast without newline 😀';
  const p = join(root, 'mixed.txt');
  writeFileSync(p, text);
  const want = ['é日😀 first\r', '\r', 'second é日😀é日😀', 'last without newline 😀'];
  for (const chunkBytes of [1, 2, 3, 5, 7, 1 << 20]) {
    const chunks: Buffer[] = [];
    const lines = [...fileLinesSync(p, { chunkBytes, onChunk: (c) => chunks.push(Buffer.from(c)) })];
    assert.deepEqual(decoded(lines), want, `pieces of ${chunkBytes} bytes`);
    assert.deepEqual(
      lines.map((l) => l.n),
      [1, 2, 3, 4],
    );
    assert.equal(Buffer.concat(chunks).toString('utf8'), text, 'onChunk sees every byte in order');
    const async: FileLine[] = [];
    for await (const l of fileLines(p, { chunkBytes })) async.push(l);
    assert.deepEqual(decoded(async), want);
  }
});

test('a line longer than the limit comes without its bytes, and the lines after it are whole', () => {
  const p = join(root, 'long.txt');
  writeFileSync(p, `short\n${'x'.repeat(50)}\nafter\n`);
  const lines = [...fileLinesSync(p, { chunkBytes: 4, maxLineBytes: 10 })];
  assert.deepEqual(decoded(lines), ['short', null, 'after']);
  assert.equal(lines[1].size, 50);
  assert.equal(lineTooLong(lines[1], 10), 'is 50 bytes long (a line can be at most 10 bytes)');
});

test('a file ending with a newline has no empty last line; an empty file has no lines', () => {
  const p = join(root, 'nl.txt');
  writeFileSync(p, 'a\nb\n');
  assert.deepEqual(decoded([...fileLinesSync(p, { chunkBytes: 1 })]), ['a', 'b']);
  writeFileSync(p, '');
  assert.deepEqual([...fileLinesSync(p)], []);
});
