import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plural } from './plural.ts';

test('plural: the noun agrees with the count', () => {
  assert.equal(plural(1, 'step'), '1 step');
  assert.equal(plural(0, 'step'), '0 steps');
  assert.equal(plural(2, 'prompt-completion row'), '2 prompt-completion rows');
  assert.equal(plural(1, 'epoch'), '1 epoch');
  assert.equal(plural(3, 'trainable parameter'), '3 trainable parameters');
});
