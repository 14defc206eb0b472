// The probe timeline's cards and the Probes tab's count (electron/backend/library/probe-cards.ts): a run
// resumed from a checkpoint before a step it had answered answers that step again, and runs/get
// returns both answers; the timeline shows one card per prompt and step, the later answer, and the
// tab counts those cards. The page itself: tests/e2e/runs.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cardText, probeCardCount, probeRows } from '../../electron/backend/library/probe-cards.ts';
import type { RunSample } from '../../renderer/src/lib/rpc/handlers.ts';

let id = 0;
const answer = (step: number, prompt: string, output: string): RunSample => ({
  id: ++id,
  step,
  prompt,
  output,
  emptyNote: null,
  createdAt: id,
});

test('a step answered again after a resume is one card, the later answer, counted once', () => {
  // As runs/get orders them (step, then id): steps 0, 2, 4 answered, the run resumed from step 0's
  // checkpoint answered 2 again.
  const samples = [
    answer(0, 'Ahoy?', 'hm'),
    answer(0, 'Who?', 'hm'),
    answer(2, 'Ahoy?', 'arr'),
    answer(2, 'Who?', 'a pirate'),
    answer(2, 'Ahoy?', 'arr!'),
    answer(2, 'Who?', 'a pirate'),
    answer(4, 'Ahoy?', 'arr!'),
    answer(4, 'Who?', 'a pirate'),
  ];
  const rows = probeRows(samples);
  assert.deepEqual(rows, [
    {
      prompt: 'Ahoy?',
      cards: [
        { step: 0, output: 'hm', emptyNote: null, changed: false },
        { step: 2, output: 'arr!', emptyNote: null, changed: true },
        { step: 4, output: 'arr!', emptyNote: null, changed: false },
      ],
    },
    {
      prompt: 'Who?',
      cards: [
        { step: 0, output: 'hm', emptyNote: null, changed: false },
        { step: 2, output: 'a pirate', emptyNote: null, changed: true },
        { step: 4, output: 'a pirate', emptyNote: null, changed: false },
      ],
    },
  ]);
  assert.equal(probeCardCount(rows), 6);
  assert.equal(probeCardCount(probeRows([])), 0);
});

test('an empty answer says why where it was told, else that it is empty', () => {
  const note = "no text: the 2 tokens decode to nothing (2 ids past the tokenizer's 384: 444, 544)";
  const [row] = probeRows([
    answer(0, 'Ahoy?', ''),
    { ...answer(2, 'Ahoy?', ''), emptyNote: note },
    answer(4, 'Ahoy?', 'arr'),
  ]);
  assert.deepEqual(row?.cards.map(cardText), ['(empty answer)', `(${note})`, 'arr']);
});
