// cutText and wrapText: text for the terminal, cut or wrapped by characters (code points), never half of one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutText, wrapText } from './terminal-text.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

test('cutText cuts by characters: an emoji at the cut is kept whole, never half a surrogate pair', () => {
  // Bug: cut by UTF-16 units, "a😀…" cut after 2 kept "a" and the emoji's high surrogate alone,
  // which a terminal shows as a replacement character (and the count said 5 for 4 characters).
  const text = 'a😀bc';
  assert.equal(cutText(text, 2), 'a😀… (4 characters in all; --json shows it whole)');
  assert.equal(cutText(text, 4), text, 'four characters fit in four');
  const emojis = '😀'.repeat(300);
  const cut = cutText(emojis, 200);
  assert.doesNotMatch(cut, LONE_SURROGATE);
  assert.ok(cut.startsWith(`${'😀'.repeat(200)}… (300 characters`), cut.slice(-60));
});

test('cutText leaves a text that fits alone and counts plain text as before', () => {
  assert.equal(cutText('abc', 3), 'abc');
  assert.equal(
    cutText('x'.repeat(1500), 1000),
    `${'x'.repeat(1000)}… (1,500 characters in all; --json shows it whole)`,
  );
});

test('wrapText breaks a word longer than the width by characters, never inside a surrogate pair', () => {
  // Bug: a word with no space that fits was broken after `width` UTF-16 units, so an emoji (or an
  // astral CJK character) at the break was split, each line holding half of it.
  const lines = wrapText('😀'.repeat(7), 3);
  for (const line of lines) assert.doesNotMatch(line, LONE_SURROGATE);
  assert.deepEqual(lines, ['😀😀😀', '😀😀😀', '😀']);
  assert.deepEqual(wrapText('😀'.repeat(12), 10, '  '), ['😀'.repeat(10), `  ${'😀'.repeat(2)}`]);
  assert.deepEqual(wrapText(`ab 𠀀${'𠀁'.repeat(9)}`, 6), ['ab', '𠀀𠀁𠀁𠀁𠀁𠀁', '𠀁𠀁𠀁𠀁'], 'astral CJK');
  assert.deepEqual(wrapText('😀😀 😀', 3), ['😀😀', '😀'], 'three characters fit in three columns');
});

test('wrapText breaks plain text at the last space that fits, as before', () => {
  assert.deepEqual(wrapText('one two three', 8, '  ', '> '), ['> one', '  two', '  three']);
  assert.deepEqual(wrapText('/a/very/long/path', 6), ['/a/ver', 'y/long', '/path']);
  assert.deepEqual(wrapText('', 10), ['']);
});
