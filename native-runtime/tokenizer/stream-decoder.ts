// Incremental detokenization for generation: tokens arrive one at a time, text should appear as
// soon as it is complete. Two traps make "decode each token alone" wrong:
//   - byte-level BPE splits one character (an emoji, a CJK ideograph) over several tokens, whose
//     partial UTF-8 decodes to U+FFFD;
//   - SentencePiece/Metaspace decoders drop the leading space of the first token of a decode call,
//     so a token decoded alone loses the space that separates it from the previous word.
// Same algorithm as tokenizers' DecodeStream: decode a small window that starts one step before the
// unread tokens, and emit the difference once it no longer ends in U+FFFD.

export interface Detokenizer {
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
}

export class StreamDecoder {
  readonly #tok: Detokenizer;
  readonly #skipSpecial: boolean;
  #ids: number[] = [];
  /** Start of the context window (tokens already emitted, kept for their effect on decoding). */
  #prefix = 0;
  /** Tokens before this index have been emitted. */
  #read = 0;
  #text = '';

  constructor(tok: Detokenizer, opts: { skipSpecialTokens?: boolean } = {}) {
    this.#tok = tok;
    this.#skipSpecial = opts.skipSpecialTokens ?? true;
  }

  /** Adds one token; returns the newly completed text ('' while a character is incomplete). */
  push(id: number): string {
    this.#ids.push(id);
    const opts = { skipSpecialTokens: this.#skipSpecial };
    const prefixText = this.#tok.decode(this.#ids.slice(this.#prefix, this.#read), opts);
    const newText = this.#tok.decode(this.#ids.slice(this.#prefix), opts);
    if (newText.length > prefixText.length && !newText.endsWith('\ufffd')) {
      const out = newText.slice(prefixText.length);
      this.#prefix = this.#read;
      this.#read = this.#ids.length;
      this.#text += out;
      return out;
    }
    return '';
  }

  /** Emits whatever is still pending (incomplete characters as U+FFFD), at the end of generation. */
  flush(): string {
    if (this.#read === this.#ids.length) return '';
    const opts = { skipSpecialTokens: this.#skipSpecial };
    const prefixText = this.#tok.decode(this.#ids.slice(this.#prefix, this.#read), opts);
    const newText = this.#tok.decode(this.#ids.slice(this.#prefix), opts);
    const out = newText.startsWith(prefixText) ? newText.slice(prefixText.length) : newText;
    this.#prefix = this.#read = this.#ids.length;
    this.#text += out;
    return out;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.#text;
  }

  /** All token ids pushed so far. */
  get ids(): readonly number[] {
    return this.#ids;
  }
}
