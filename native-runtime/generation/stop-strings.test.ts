import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutAtStop, parseStopLines, StopStringStream } from './stop-strings.ts';

function stream(stops: string[], pieces: string[]): string[] {
  const out: string[] = [];
  const s = new StopStringStream(stops, (t) => out.push(t));
  for (const p of pieces) s.push(p);
  s.flush();
  return out;
}

test('cutAtStop: the text before the earliest stop string', () => {
  assert.equal(cutAtStop('a\n\nb User: c', ['User:', '\n\n']), 'a');
  assert.equal(cutAtStop('abc', ['x']), 'abc');
  assert.equal(cutAtStop('abc', ['']), 'abc');
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
