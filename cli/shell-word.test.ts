import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shellWords as wordsOf } from '../tests/helpers/shell.ts';
import { nextCommand } from './command.ts';
import { shellLine, shellWord } from './shell-word.ts';

const AWKWARD = [
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
  '/tmp/données d’été/日本語',
  '/tmp/my "data" $HOME',
];

test('a word a shell reads back whole, as it was', () => {
  // Before, JSON.stringify quoted: "-$x y" is "-" and the value of $x to a shell, and a word
  // without spaces such as a(b) was left bare, a syntax error.
  assert.deepEqual(wordsOf(AWKWARD.map(shellWord).join(' ')), AWKWARD);
  assert.deepEqual(wordsOf(shellLine(AWKWARD)), AWKWARD);
  assert.deepEqual(['prompt=q', 'prompt=the question', "it's"].map(shellWord), [
    'prompt=q',
    '"prompt=the question"',
    `"it's"`,
  ]);
});

test('a printed command pastes back as the same words, with the same --data-dir', () => {
  // Before, --data-dir and --out were quoted with JSON.stringify: a folder with $ or ` in its name
  // pasted back as another folder (the shell expanded it inside the double quotes).
  for (const dir of AWKWARD.filter((w) => w !== '')) {
    const line = nextCommand({ 'data-dir': dir }, 'runs', 'resume', 7, '--out', `${dir}/out`);
    assert.deepEqual(wordsOf(line), [
      'reft-studio',
      'runs',
      'resume',
      '7',
      '--out',
      `${dir}/out`,
      '--data-dir',
      dir,
    ]);
  }
  assert.equal(nextCommand({}, 'adapters', 'show', 3), 'reft-studio adapters show 3');
});
