import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Detokenizer, StreamDecoder } from './stream-decoder.ts';

// A Metaspace-like vocabulary: '▁' marks a space, and the first token of a decode loses its
// leading space (as sentencepiece decoders do); byte tokens <0x..> carry raw UTF-8 bytes.
const vocab = ['▁Hello', '▁world', '<0xE2>', '<0x82>', '<0xAC>', '!', '</s>'];
const metaspace: Detokenizer = {
  decode(ids, opts) {
    const bytes: number[] = [];
    for (const id of ids) {
      const t = vocab[id];
      if (t === '</s>') {
        if (!opts?.skipSpecialTokens) bytes.push(...Buffer.from(t));
        continue;
      }
      const m = /^<0x([0-9A-F]{2})>$/.exec(t);
      if (m) bytes.push(parseInt(m[1], 16));
      else bytes.push(...Buffer.from(t.replaceAll('▁', ' ')));
    }
    const s = Buffer.from(bytes).toString('utf8');
    return s.startsWith(' ') ? s.slice(1) : s;
  },
};

test('keeps the space between words that a one-token decode would drop', () => {
  const d = new StreamDecoder(metaspace);
  assert.equal(d.push(0), 'Hello');
  assert.equal(d.push(1), ' world');
  assert.equal(d.push(5), '!');
  assert.equal(d.text, 'Hello world!');
});

test('holds back an incomplete UTF-8 character until its last byte', () => {
  const d = new StreamDecoder(metaspace);
  assert.equal(d.push(0), 'Hello');
  assert.equal(d.push(2), '');
  assert.equal(d.push(3), '');
  assert.equal(d.push(4), '€');
  assert.equal(d.flush(), '');
  assert.equal(d.text, 'Hello€');
});

test('flush emits a dangling partial character as U+FFFD; special tokens skipped by default', () => {
  const d = new StreamDecoder(metaspace);
  assert.equal(d.push(6), '');
  assert.equal(d.push(2), '');
  assert.equal(d.flush(), '\ufffd');
  const keep = new StreamDecoder(metaspace, { skipSpecialTokens: false });
  assert.equal(keep.push(6), '</s>');
  assert.deepEqual(keep.ids, [6]);
});
