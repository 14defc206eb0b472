// displayWidth, clipToWidth and table's fit: text measured in terminal columns, not characters — CJK
// and emoji two columns, a combining mark none, a ZWJ sequence one picture — and cut between
// grapheme clusters, never inside one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { table } from './command.ts';
import { clipToWidth, displayWidth } from './display-width.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const FAMILY = '👨‍👩‍👧‍👦'; // 7 code points, 11 UTF-16 units, one two-column picture
const CODER = '🧑‍💻'; // a ZWJ sequence newer than string-width 4's emoji list

test('displayWidth counts terminal columns: CJK and emoji two, combining marks none', () => {
  const cases: Array<[string, number]> = [
    ['abc', 3],
    ['日本語', 6],
    ['한국어', 6],
    ['\u1100\u1161\u11a8', 2], // a Hangul syllable spelled in Jamo: one cluster
    ['ｱｲ', 2], // halfwidth katakana
    ['Ｆｕｌｌ', 8], // fullwidth Latin
    ['𠀀', 2], // astral CJK
    ['👍', 2],
    ['🫠', 2], // Emoji 14
    [FAMILY, 2],
    [CODER, 2],
    ['🏳️‍🌈', 2],
    ['👍🏽', 2], // a skin tone
    ['🇯🇵', 2], // a flag
    ['1️⃣', 2], // a keycap
    ['❤️', 2], // text symbol asked as emoji
    ['❤', 1], // and as text
    ['e\u0301', 1], // e + combining acute
    ['Cafe\u0301 noe\u0308l', 9],
    ['a\u200bb', 2], // zero-width space
  ];
  for (const [text, width] of cases) assert.equal(displayWidth(text), width, JSON.stringify(text));
});

test('clipToWidth cuts between grapheme clusters, the ellipsis included in the width', () => {
  assert.equal(clipToWidth('short', 5), 'short');
  assert.equal(clipToWidth('abcdef', 5), 'abcd…');
  assert.equal(
    clipToWidth('日本語のモデル', 6),
    '日本…',
    'a wide character that would overshoot is left out',
  );
  assert.equal(clipToWidth(FAMILY.repeat(4), 6), `${FAMILY.repeat(2)}…`, 'a ZWJ sequence kept whole');
  assert.equal(
    clipToWidth('e\u0301'.repeat(10), 4),
    `${'e\u0301'.repeat(3)}…`,
    'an accent stays on its letter',
  );
  for (let max = 1; max < 30; max++) {
    const cut = clipToWidth(`${CODER}x日${FAMILY}🇯🇵`.repeat(5), max);
    assert.ok(displayWidth(cut) <= max, `${cut} in ${max}`);
    assert.doesNotMatch(cut, LONE_SURROGATE);
  }
});

test('table pads by display width and fits the listed columns into 80 columns', () => {
  // Bug: table padded by code points: a CJK name (2 columns a character) pushed its row's later
  // columns right of the header's, a combining accent (0 columns) pulled them left.
  const names = ['ascii name', '日本語の名前', `${FAMILY} family`, 'Cafe\u0301 cre\u0300me', 'x'.repeat(200)];
  const lines = table(
    ['ID', 'NAME', 'STATUS'],
    names.map((n, i) => [i, n, 'completed']),
    { shrink: [1] },
  ).split('\n');
  const statusAt = (line: string) => displayWidth(line.slice(0, line.lastIndexOf('  ') + 2));
  for (const line of lines) {
    assert.ok(displayWidth(line) <= 80, `${displayWidth(line)} columns: ${line}`);
    assert.equal(statusAt(line), statusAt(lines[0]), `STATUS starts where its header does: ${line}`);
  }
  assert.match(lines[5], /^4 {3}x+… {2}completed$/);
  // Without fit a table is as wide as its cells, as before; still aligned by display width.
  const wide = table(
    ['NAME', 'N'],
    [
      ['日本', 1],
      ['abcd', 2],
    ],
  ).split('\n');
  assert.deepEqual(wide, ['NAME  N', '日本  1', 'abcd  2']);
});

test('a cluster astride a 256-unit window is measured and cut whole, however the window splits it', () => {
  // Bug: text is segmented 256 UTF-16 units at a time, and a window that ended inside a surrogate
  // pair made the pair's first half a cluster of its own, so the whole cluster before it ended
  // there: 👍🏽 measured as 👍 and 🏽 (four columns), 🇯🇵 as two flags' halves, and a cut could
  // fall between a thumb and its skin tone or a flag and its tags.
  const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
  const ENGLAND = '🏴󠁧󠁢󠁥󠁮󠁧󠁿'; // a black flag and tag characters, each two units
  for (const cluster of ['👍🏽', '🇯🇵', ENGLAND, FAMILY, CODER, '❤️', '1️⃣', 'e\u0301', '日']) {
    for (let lead = 240; lead < 257; lead++) {
      const text = `${'a'.repeat(lead)}${cluster}b`;
      const at = `${JSON.stringify(cluster)} after ${lead}`;
      assert.equal(displayWidth(text), lead + displayWidth(cluster) + 1, at);
      // Every cut ends on a cluster's end in the text as a whole.
      const ends = new Set([0, ...[...segmenter.segment(text)].map((s) => s.index + s.segment.length)]);
      for (let max = lead - 1; max <= lead + 3; max++) {
        const cut = clipToWidth(text, max);
        assert.ok(ends.has(cut.length - (cut.endsWith('…') ? 1 : 0)), `${at}, ${max} columns`);
        assert.ok(displayWidth(cut) <= max, `${at}, ${max} columns`);
      }
    }
  }
});
