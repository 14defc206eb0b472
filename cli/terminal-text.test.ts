// cutText: a long text cut for the terminal, by characters (code points), never half of one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutText } from './terminal-text.ts';

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
