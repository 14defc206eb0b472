// The Base weights choices (Models page, Train wizard): Automatic names the form it picks on this
// computer's CPU when the page knows the memory, with that form's figures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseFormChoices } from '../../renderer/src/lib/base-forms.ts';

const GB = 1e9;
const llama8b = {
  params: 8.03e9,
  hiddenSize: 4096,
  vocabSize: 128256,
  config: { tie_word_embeddings: false },
};

test('Automatic says what it picks here: 8-bit on 23 GB, full precision on 64 GB, the rule without memory', () => {
  const at = (memory?: number) => {
    const cs = baseFormChoices(llama8b, memory);
    const auto = cs.find((c) => c.value === 'auto');
    assert.ok(auto);
    return { auto, of: (v: string) => cs.find((c) => c.value === v) };
  };
  const small = at(23 * GB);
  assert.match(small.auto.text, /^Automatic \(8-bit on this computer's CPU\) — weights /);
  assert.equal(small.auto.chatBytes, small.of('int8')?.chatBytes);
  const big = at(64 * GB);
  assert.match(big.auto.text, /^Automatic \(full precision on this computer's CPU\)/);
  assert.equal(big.auto.chatBytes, big.of('none')?.chatBytes);
  assert.match(at().auto.text, /full precision where it fits in memory, else 8 or 4 bits/);
  assert.deepEqual(
    baseFormChoices(llama8b).map((c) => c.value),
    ['auto', 'none', 'int8', 'int4'],
  );
});
