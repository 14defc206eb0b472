import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracy,
  choiceMatch,
  exactMatch,
  extractChoice,
  extractLastNumber,
  extractNumbers,
  normalizeAnswer,
  numbersMatch,
  perplexity,
  weightedMeanLoss,
} from './metrics.ts';

test('perplexity is exp(loss), infinite for non-finite or overflowing losses', () => {
  assert.equal(perplexity(0), 1);
  assert.ok(Math.abs(perplexity(Math.log(7)) - 7) < 1e-12);
  assert.equal(perplexity(Number.NaN), Number.POSITIVE_INFINITY);
  assert.equal(perplexity(1e6), Number.POSITIVE_INFINITY);
});

test('weightedMeanLoss weights each batch by its tokens and skips empty ones', () => {
  assert.equal(
    weightedMeanLoss([
      { loss: 1, tokens: 1 },
      { loss: 4, tokens: 3 },
      { loss: 99, tokens: 0 },
    ]),
    13 / 4,
  );
  assert.ok(Number.isNaN(weightedMeanLoss([])));
});

test('extractNumbers reads signs, decimals and thousands separators', () => {
  assert.deepEqual(extractNumbers('a -3 b 1,234.5 c .5 d 10,00'), [-3, 1234.5, 0.5, 10, 0]);
  assert.deepEqual(extractNumbers('no digits'), []);
});

test('extractLastNumber: the last number in the output, or the #### marker (arithmetic evaluation)', () => {
  assert.equal(extractLastNumber('She has 3 apples and buys 4 more, so 3 + 4 = 7.'), 7);
  assert.equal(extractLastNumber('The answer is 1,250 dollars'), 1250);
  assert.equal(extractLastNumber('Loss of -12.5 points'), -12.5);
  assert.equal(extractLastNumber('#### 42\nI also counted 7 things'), 42);
  assert.equal(extractLastNumber('no number here'), null);
  assert.equal(extractLastNumber(''), null);
  assert.equal(extractLastNumber('18 then 3.0'), 3);
});

test('numbersMatch uses the 1e-3 tolerance and refuses missing numbers', () => {
  assert.ok(numbersMatch(3, 3.0004));
  assert.ok(!numbersMatch(3, 3.01));
  assert.ok(!numbersMatch(null, 3));
  assert.ok(!numbersMatch(3, null));
});

test('normalizeAnswer lower-cases and drops punctuation, articles and extra spaces', () => {
  assert.equal(normalizeAnswer('  The  Eiffel Tower!! '), 'eiffel tower');
  assert.equal(normalizeAnswer('An apple, a day.'), 'apple day');
  assert.equal(normalizeAnswer(''), '');
});

test('exactMatch: numeric references compare numbers, text references compare normalised text', () => {
  assert.ok(exactMatch('so the total is 72', '72'));
  assert.ok(exactMatch('so the total is 72.0004', '72'));
  assert.ok(!exactMatch('so the total is 73', '72'));
  assert.ok(exactMatch('The answer: 1,000', '1000'));
  assert.ok(exactMatch('#### 18', '18'));
  assert.ok(exactMatch('Paris.', 'paris'));
  assert.ok(exactMatch('Paris is the capital', 'Paris'));
  assert.ok(!exactMatch('Parisian food', 'Paris'));
  assert.ok(!exactMatch('London', 'Paris'));
  assert.ok(!exactMatch('anything', ''));
});

test('extractChoice: commonsense label words, the first one named', () => {
  assert.equal(extractChoice('the correct answer is answer2'), 'answer2');
  assert.equal(extractChoice('solution1 is better than solution2'), 'solution1');
  assert.equal(extractChoice('True, because the passage says so'), 'true');
  assert.equal(extractChoice('I pick ending3.'), 'ending3');
  assert.equal(extractChoice('option2'), 'option2');
  assert.equal(extractChoice('Answer5'), 'answer5');
  assert.equal(extractChoice('it is false that answer1 holds'), 'false');
});

test('extractChoice: given labels replace the default families', () => {
  assert.equal(extractChoice('true: solution2 it is', { labels: ['solution1', 'solution2'] }), 'solution2');
  assert.equal(extractChoice('nothing relevant', { labels: ['solution1', 'solution2'] }), null);
});

test('extractChoice: lettered options in their explicit forms, a bare letter only as the answer', () => {
  assert.equal(extractChoice('The answer is C because...'), 'C');
  assert.equal(extractChoice('Answer: (B)'), 'B');
  assert.equal(extractChoice('I think (D) fits'), 'D');
  assert.equal(extractChoice('B) the second one'), 'B');
  assert.equal(extractChoice('A'), 'A');
  assert.equal(extractChoice('  E.'), 'E');
  // "A" as an article is not an answer, nor is a lower-case letter after "answer is".
  assert.equal(extractChoice('A bird in the hand'), null);
  assert.equal(extractChoice('the answer is a cat'), null);
  // Allowed letters come from the labels.
  assert.equal(extractChoice('(E)', { labels: ['A', 'B', 'C', 'D'] }), null);
  assert.equal(extractChoice('(c)', { labels: ['a', 'b', 'c'] }), null);
  assert.equal(extractChoice('(C)', { labels: ['a', 'b', 'c'] }), 'C');
});

test('extractChoice: falls back to the option text mentioned first, preferring the longest', () => {
  const options = ['York', 'New York City', 'Boston'];
  const labels = ['A', 'B', 'C'];
  assert.equal(extractChoice('I would say new york city, not boston', { labels, options }), 'B');
  assert.equal(extractChoice('boston then york', { labels, options }), 'C');
  assert.equal(extractChoice('boston', { options }), '2');
  assert.equal(extractChoice('chicago', { labels, options }), null);
  assert.equal(extractChoice('', { labels, options }), null);
});

test('choiceMatch extracts the reference the same way', () => {
  assert.ok(choiceMatch('the answer is answer3', 'answer3'));
  assert.ok(choiceMatch('(B)', 'B'));
  assert.ok(choiceMatch('B', 'b'));
  assert.ok(!choiceMatch('(A)', 'B'));
  assert.ok(!choiceMatch('no idea', 'B'));
  assert.ok(
    choiceMatch('Paris, clearly', 'C', { labels: ['A', 'B', 'C'], options: ['Rome', 'Berlin', 'Paris'] }),
  );
});

test('accuracy counts correct results', () => {
  assert.deepEqual(accuracy([true, false, true, true]), { accuracy: 0.75, correct: 3, total: 4 });
  const empty = accuracy([]);
  assert.ok(Number.isNaN(empty.accuracy));
  assert.equal(empty.total, 0);
});
