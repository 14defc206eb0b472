// setEnvFor puts a variable back as it was before the test, however many times the test set it.

import assert from 'node:assert/strict';
import test from 'node:test';
import { setEnvFor } from './env.ts';

const NAME = 'REFT_STUDIO_ENV_HELPER_CHECK';

test('a variable set twice in one test (setup)', (t) => {
  process.env[NAME] = 'before';
  setEnvFor(t, NAME, undefined);
  assert.equal(process.env[NAME], undefined);
  setEnvFor(t, NAME, 'second');
  assert.equal(process.env[NAME], 'second');
});

test('…is back to its value from before the first change once that test ends', () => {
  // node:test runs a test's `after` hooks first-registered-first, so a naive helper restores
  // the first save ("before") and then the second (absent): the variable would be gone.
  assert.equal(process.env[NAME], 'before');
  delete process.env[NAME];
});

test('a variable absent before the test is absent again after it (setup)', (t) => {
  delete process.env[NAME];
  setEnvFor(t, NAME, 'one');
  setEnvFor(t, NAME, 'two');
});

test('…is absent once that test ends', () => {
  assert.equal(process.env[NAME], undefined);
});
