import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { shellWord } from './shell-word.ts';

test('a word a shell reads back whole, as it was', () => {
  // Before, JSON.stringify quoted: "-$x y" is "-" and the value of $x to a shell, and a word
  // without spaces such as a(b) was left bare, a syntax error.
  const words = [
    'prompt=q',
    'prompt=the question',
    '-x y',
    '-$x y',
    'a(b)',
    "it's $HOME",
    'say "hi"!',
    '`ls`',
    'a;b&c|d',
    '#',
    '~',
    '',
    'back\\slash',
    'line\nbreak',
  ];
  const script = `for w in ${words.map(shellWord).join(' ')}; do printf '%s\\0' "$w"; done`;
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
  assert.deepEqual(['prompt=q', 'prompt=the question', "it's"].map(shellWord), [
    'prompt=q',
    '"prompt=the question"',
    `"it's"`,
  ]);
});
