// The row a Playground reply is saved as, per dataset format: one message makes a prompt/completion
// or alpaca row, a conversation (earlier turns, a system prompt) only a chat row; and every row is one
// the library's import rules accept as it is (the same normalizeRow the trainer reads with).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeRow } from '../../native-runtime/training/data-formats.ts';
import {
  type ExampleMessage,
  newDatasetFormat,
  trainingRow,
} from '../../renderer/src/lib/state/training-example.ts';

const one: ExampleMessage[] = [{ role: 'user', content: 'Ahoy ' }];
const withSystem: ExampleMessage[] = [{ role: 'system', content: 'Be a pirate.' }, ...one];

test('one message: each format’s row, kept as typed and as the library stores it', () => {
  const rows = {
    'prompt-completion': { prompt: 'Ahoy ', completion: 'Arr\n' },
    alpaca: { instruction: 'Ahoy ', input: '', output: 'Arr\n' },
    chat: { messages: [...one, { role: 'assistant', content: 'Arr\n' }] },
  } as const;
  for (const [format, row] of Object.entries(rows) as [keyof typeof rows, object][]) {
    assert.deepEqual(trainingRow(format, one, 'Arr\n', 'd'), { row });
    assert.deepEqual(normalizeRow(format, row), row, `${format}: stored unchanged`);
  }
  assert.equal(newDatasetFormat(one), 'prompt-completion');
});

test('a system prompt or earlier turns need a chat row: other formats say so in one line', () => {
  assert.deepEqual(trainingRow('alpaca', withSystem, 'Arr', 'Picks'), {
    problem:
      '“Picks” holds alpaca rows, one prompt and its answer; this reply follows a system prompt, which only a chat dataset holds: choose a chat dataset or a new one.',
  });
  const turns: ExampleMessage[] = [
    ...one,
    { role: 'assistant', content: 'Arr' },
    { role: 'user', content: 'Gold?' },
  ];
  assert.match(
    (trainingRow('prompt-completion', turns, 'Buried', 'Picks') as { problem: string }).problem,
    /follows earlier turns/,
  );
  assert.deepEqual(trainingRow('chat', withSystem, 'Arr', 'Picks'), {
    row: { messages: [...withSystem, { role: 'assistant', content: 'Arr' }] },
  });
  assert.equal(newDatasetFormat(withSystem), 'chat');
  assert.deepEqual(trainingRow('chat', one, '  ', 'Picks'), {
    problem: 'The answer to learn is empty: write the answer you want.',
  });
});
