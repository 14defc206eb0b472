import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStopLines, StopStringStream } from './stop-strings.ts';

function stream(stops: string[], pieces: string[]): string[] {
  const out: string[] = [];
  const s = new StopStringStream(stops, (t) => out.push(t));
  for (const p of pieces) s.push(p);
  s.flush();
  return out;
}

test('StopStringStream: the text before the earliest stop string', () => {
  assert.deepEqual(stream(['User:', '\n\n'], ['a\n\nb User: c']), ['a']);
  assert.deepEqual(stream(['x'], ['abc']), ['abc']);
  assert.deepEqual(stream([''], ['abc']), ['abc']);
});

test('StopStringStream: the streamed text is the cut answer, a stop split over pieces included', () => {
  // "\n" could begin "\n\n": held until the next piece decides.
  assert.deepEqual(stream(['\n\n'], ['Hi', '\n', '\nmore']), ['Hi']);
  assert.deepEqual(stream(['\n\n'], ['Hi', '\n', 'there']), ['Hi', '\nthere']);
  assert.deepEqual(stream(['User:'], ['ok U', 's', 'er: no', 'more']), ['ok ']);
  // Several stops: the earliest wins; one ending a piece is never shown.
  assert.deepEqual(stream(['END', 'x'], ['abxEND']), ['ab']);
  // What waits at the end without a stop after it is emitted by flush.
  assert.deepEqual(stream(['STOP'], ['go ST']), ['go ', 'ST']);
  assert.deepEqual(stream([], ['a', 'b']), ['a', 'b']);
});

test('parseStopLines: one text a line, \\n a line break, \\\\ a backslash, blank lines none', () => {
  assert.deepEqual(parseStopLines('\\n\\n\nUser:\n\n'), ['\n\n', 'User:']);
  assert.deepEqual(parseStopLines('a\\tb\n\\\\n'), ['a\tb', '\\n']);
  assert.deepEqual(parseStopLines(''), []);
  // Spaces are text: " Q:" is not "Q:".
  assert.deepEqual(parseStopLines(' Q:'), [' Q:']);
});

test('StopStringStream: a stop string matches canonically equal text, NFC or NFD', () => {
  const nfc = 'caf\u00e9'; // é as one code point
  const nfd = 'cafe\u0301'; // e + combining acute
  assert.deepEqual(stream(['\u00e9'], [`${nfd} ok`]), ['caf']);
  assert.deepEqual(stream(['e\u0301'], [`${nfc} ok`]), ['caf']);
  assert.deepEqual(stream([nfc], [`say ${nfd}!`]), ['say ']);
  // Split over pieces: the e waits, since with its accent it could begin the stop string.
  assert.deepEqual(stream(['\u00e9'], ['caf', 'e', '\u0301 ok']), ['caf']);
  assert.deepEqual(stream(['\u00e9'], ['caf', 'e', 's']), ['caf', 'es']);
  // Hangul: 한 as one syllable or as three jamo.
  assert.deepEqual(stream(['\ud55c'], ['a \u1112\u1161\u11ab b']), ['a ']);
  assert.deepEqual(stream(['\u1112\u1161\u11ab'], ['a \ud55c b']), ['a ']);
});

test('StopStringStream: a stop string matches whole characters, never part of one', () => {
  // "e" is not the é of e + U+0301, nor 하 the start of the syllable 한.
  assert.deepEqual(stream(['e'], ['cafe\u0301']), ['cafe\u0301']);
  // Except where the text so far ends: the stop is taken at once (waiting for a mark that might
  // come would cost a token at every stop).
  assert.deepEqual(stream(['e'], ['cafe', '\u0301']), ['caf']);
  assert.deepEqual(stream(['\ud558'], ['\u1112\u1161\u11ab']), ['\u1112\u1161\u11ab']);
  assert.deepEqual(stream(['\ud558'], ['\ud55c']), ['\ud55c']);
  // The answer keeps the form the model wrote.
  assert.deepEqual(stream(['x'], ['e\u0301 x']), ['e\u0301 ']);
});
