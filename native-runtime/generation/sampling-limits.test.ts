import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STOP_STRINGS, samplingProblems, stopProblems } from './sampling-limits.ts';

test('samplingProblems: a line per value outside its limits, blanks only where allowed', () => {
  assert.deepEqual(samplingProblems({ temperature: 0.7, topP: 1, topK: 0, maxNewTokens: 4096, seed: 0 }), []);
  assert.deepEqual(samplingProblems({ topP: 0, repetitionPenalty: 11, maxNewTokens: 1.5, topK: -1 }), [
    'Top-p must be a number above 0 and at most 1.',
    'Repetition penalty must be a number above 0 and at most 10.',
    'Max new tokens must be a whole number from 1 to 4096.',
    'Top-k must be a whole number from 0 to 1,000,000.',
  ]);
  assert.deepEqual(samplingProblems({ seed: null, temperature: null }, ['seed']), [
    'Temperature must be a number from 0 to 10.',
  ]);
  assert.deepEqual(samplingProblems({ seed: 2 ** 32 }), [
    'Seed must be blank or a whole number from 0 to 4,294,967,295.',
  ]);
});

test('stop texts: a few, each short, none empty; the RPC and the Playground agree', () => {
  const ok = ['\n\n', 'x'.repeat(200)];
  assert.deepEqual(stopProblems(ok), []);
  assert.equal(STOP_STRINGS.safeParse(ok).success, true);
  const many = Array.from({ length: 9 }, (_, i) => `s${i}`);
  assert.deepEqual(stopProblems(many), ['Stop at takes at most 8 texts.']);
  assert.equal(STOP_STRINGS.safeParse(many).success, false);
  const long = ['x'.repeat(201)];
  assert.deepEqual(stopProblems(long), ['Stop at: each text must be at most 200 characters.']);
  assert.equal(STOP_STRINGS.safeParse(long).success, false);
  assert.equal(STOP_STRINGS.safeParse(['']).success, false);
});
