// The answer a generated row shows (answer-stream.ts), fed token by token from the fixtures' real
// byte-level tokenizer: a stop string that is a special token's text stops at that token and never
// matches inside one; an "é" typed in one form stops an answer written in the other, its accent
// arriving in a token of its own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerStream } from '../../native-runtime/generation/answer-stream.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { modelDir } from '../helpers/fixtures.ts';

const tok = loadTokenizer(modelDir('llama'));
const ids = (text: string) => tok.encode(text, { addSpecialTokens: false });
const USER = tok.tokenToId('<|user|>') as number;
const EOS = tok.eosTokenId as number;

/** The answer to `tokens` as generation shows it: tokens stop arriving once it has stopped. */
function answer(stops: string[], tokens: number[]): { text: string; streamed: string; stopped: boolean } {
  const pieces: string[] = [];
  const a = new AnswerStream(tok, stops, (t) => pieces.push(t));
  for (const id of tokens) {
    if (a.stopped) break;
    a.push(id);
  }
  a.finish();
  return { text: a.text, streamed: pieces.join(''), stopped: a.stopped };
}

test('a stop string that is a special token’s text stops at that token', () => {
  assert.ok(tok.specialIds.has(USER));
  const r = answer(['<|user|>'], [...ids('Hi'), USER, ...ids(' more')]);
  assert.deepEqual(r, { text: 'Hi', streamed: 'Hi', stopped: true });
  // The end token too, where it is not the one generation ends on.
  assert.deepEqual(answer(['</s>'], [...ids('Hi'), EOS, ...ids(' more')]).text, 'Hi');
  // What waited because it could begin another stop string is part of the answer.
  assert.deepEqual(answer(['Hi there', '<|user|>'], [...ids('Hi'), USER]), {
    text: 'Hi',
    streamed: 'Hi',
    stopped: true,
  });
});

test('a stop string never matches inside a special token, nor across one and the text', () => {
  const tokens = [...ids('Hi'), USER, ...ids(' more')];
  for (const stop of ['<', '|user|', '<|user', 'Hi<|user|>', '<|user|> more'])
    assert.deepEqual(answer([stop], tokens), { text: 'Hi more', streamed: 'Hi more', stopped: false }, stop);
});

test('a stop string matches the answer in the other normalization form', () => {
  const nfd = ids('un cafe\u0301 noir'); // the accent's two bytes come in tokens after the e
  assert.deepEqual(answer(['\u00e9'], nfd), { text: 'un caf', streamed: 'un caf', stopped: true });
  assert.deepEqual(answer(['caf\u00e9 n'], nfd).text, 'un ');
  const nfc = ids('un caf\u00e9 noir');
  assert.deepEqual(answer(['e\u0301'], nfc), { text: 'un caf', streamed: 'un caf', stopped: true });
  // Not stopped, the answer keeps the form the model wrote.
  assert.deepEqual(answer(['x'], nfd).text, 'un cafe\u0301 noir');
});
