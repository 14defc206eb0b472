// cutText and wrapText: text for the terminal, cut or wrapped by terminal columns (display-width.ts),
// never inside a grapheme cluster.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayWidth } from './display-width.ts';
import { cutText, wrapText } from './terminal-text.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

test('cutText cuts by columns: an emoji at the cut is kept whole, never half a surrogate pair', () => {
  // Bug: cut by UTF-16 units, "a😀…" cut after 2 kept "a" and the emoji's high surrogate alone,
  // which a terminal shows as a replacement character (and the count said 5 for 4 characters).
  const text = 'a😀bc'; // five columns: the emoji takes two
  assert.equal(
    cutText(text, 2),
    'a… (4 characters in all; --json shows it whole)',
    'the emoji does not fit in one',
  );
  assert.equal(cutText(text, 3), 'a😀… (4 characters in all; --json shows it whole)');
  assert.equal(cutText(text, 5), text, 'five columns fit in five');
  const emojis = '😀'.repeat(300);
  const cut = cutText(emojis, 200);
  assert.doesNotMatch(cut, LONE_SURROGATE);
  assert.ok(cut.startsWith(`${'😀'.repeat(100)}… (300 characters`), cut.slice(-60));
});

test('cutText leaves a text that fits alone and counts plain text as before', () => {
  assert.equal(cutText('abc', 3), 'abc');
  assert.equal(
    cutText('x'.repeat(1500), 1000),
    `${'x'.repeat(1000)}… (1,500 characters in all; --json shows it whole)`,
  );
});

test('wrapText breaks a word longer than the width by columns, never inside a surrogate pair', () => {
  // Bug: a word with no space that fits was broken after `width` UTF-16 units, so an emoji (or an
  // astral CJK character) at the break was split, each line holding half of it.
  const lines = wrapText('😀'.repeat(7), 3);
  for (const line of lines) assert.doesNotMatch(line, LONE_SURROGATE);
  assert.deepEqual(lines, Array(7).fill('😀'), 'one two-column emoji a line in three columns');
  assert.deepEqual(wrapText('😀'.repeat(12), 10, '  '), [
    '😀'.repeat(5),
    `  ${'😀'.repeat(4)}`,
    `  ${'😀'.repeat(3)}`,
  ]);
  assert.deepEqual(
    wrapText(`ab 𠀀${'𠀁'.repeat(9)}`, 6),
    ['ab', '𠀀𠀁𠀁', '𠀁𠀁𠀁', '𠀁𠀁𠀁', '𠀁'],
    'astral CJK',
  );
  assert.deepEqual(
    wrapText('😀😀 😀', 5),
    ['😀😀', '😀'],
    'two emoji fit in five columns, not with the space and a third',
  );
});

test('wrapText breaks plain text at the last space that fits, as before', () => {
  assert.deepEqual(wrapText('one two three', 8, '  ', '> '), ['> one', '  two', '  three']);
  assert.deepEqual(wrapText('/a/very/long/path', 6), ['/a/ver', 'y/long', '/path']);
  assert.deepEqual(wrapText('', 10), ['']);
});

test('wrapText and cutText measure terminal columns: CJK, emoji and accented text keep to the width', () => {
  // Bug: both counted code points, so a CJK prompt wrapped at 80 characters took 160 columns, and
  // a family emoji (seven code points, one picture) could be broken between its people.
  const FAMILY = '👨‍👩‍👧‍👦';
  const texts = [
    '日本語のプロンプトはとても長いので、端末の幅で折り返さなければなりません。'.repeat(4),
    `${FAMILY}${'🇯🇵'}😀 mixed 漢字 and emoji ${FAMILY}`.repeat(6),
    'Cafe\u0301 noe\u0308l cre\u0300me bru\u0302le\u0301e '.repeat(8),
    '한국어 문장도 두 칸씩 차지합니다 '.repeat(6),
  ];
  for (const text of texts) {
    for (const width of [1, 2, 3, 7, 20, 80]) {
      const lines = wrapText(text, width, '  ');
      for (const line of lines) assert.ok(displayWidth(line) <= Math.max(width, 4), `${width}: ${line}`);
      // Nothing is lost or split: the lines joined again are the text's clusters, bar the spaces.
      const clusters = (s: string) =>
        [...new Intl.Segmenter().segment(s.replace(/\s/g, ''))].map((c) => c.segment);
      assert.deepEqual(clusters(lines.join('')), clusters(text), `${width}`);
    }
    const cut = cutText(text, 30);
    const shown = cut.slice(0, cut.indexOf('… ('));
    assert.ok(displayWidth(shown) <= 30 && displayWidth(shown) >= 28, `${displayWidth(shown)}: ${shown}`);
  }
  assert.deepEqual(
    wrapText('日本語 日本語', 8),
    ['日本語', '日本語'],
    'six columns and a space: the next word goes below',
  );
  assert.deepEqual(wrapText(FAMILY.repeat(3), 4), [FAMILY.repeat(2), FAMILY], 'a ZWJ sequence kept whole');
  assert.equal(cutText('日本語のモデル', 5), '日本… (7 characters in all; --json shows it whole)');
});

test('a run name or folder of CJK, emoji and accents: cut and wrapped between clusters, by columns', () => {
  // A probe answer is cut at 300 columns, read 256 UTF-16 units at a time: a skin-toned emoji
  // astride that window was cut from its tone (👍 kept, 🏽 left out).
  const answer = `${'a'.repeat(253)}👍🏽${'b'.repeat(100)}`;
  const marker = '… (355 characters in all; --json shows it whole)';
  assert.equal(cutText(answer, 255), `${'a'.repeat(253)}👍🏽${marker}`);
  assert.equal(cutText(answer, 254), `${'a'.repeat(253)}${marker}`);
  // A folder path: a CJK name, a ZWJ emoji, a text symbol asked as emoji (VS16), a combining accent.
  const folder = '/home/ユーザー/実験🧑‍💻/海賊の先生❤️/cafe\u0301/👨‍👩‍👧‍👦🇯🇵/チェックポイント';
  const segments = (s: string) => [...new Intl.Segmenter().segment(s)].map((c) => c.segment);
  for (const width of [2, 5, 9, 16]) {
    const lines = wrapText(folder, width);
    for (const line of lines) assert.ok(displayWidth(line) <= width, `${width}: ${line}`);
    assert.deepEqual(segments(lines.join('')), segments(folder), `${width}: no cluster split`);
  }
  assert.deepEqual(wrapText('❤️e\u0301日❤️', 3), ['❤️e\u0301', '日', '❤️']);
});

test('wrapText and cutText take time in proportion to the text, however long', () => {
  // Bug: Intl.Segmenter, given the whole text, took time in proportion to it for every cluster:
  // wrapping this 180,000-unit prompt took three minutes, cutting a 20 MB answer as long.
  const prompt = 'Cafe\u0301 👨‍👩‍👧‍👦 日本語 '.repeat(8000);
  let started = performance.now();
  const lines = wrapText(prompt, 80, '    ', '  ');
  assert.ok(lines.length > 1000 && lines.every((l) => displayWidth(l) <= 80));
  assert.ok(performance.now() - started < 5000, `${performance.now() - started} ms to wrap`);
  started = performance.now();
  assert.match(cutText(prompt.repeat(100), 300), /… \(14,400,000 characters in all/);
  assert.ok(performance.now() - started < 5000, `${performance.now() - started} ms to cut`);
});
