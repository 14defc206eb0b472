// One generated row's answer as its tokens arrive: the decoded text (special tokens left out, as
// transformers' decode with skip_special_tokens), cut before the first stop string (stop-strings.ts).
// A stop string that is a special token's own text ("<|im_end|>", "<end_of_turn>", "</s>") stops at
// that token, as transformers' stop_strings do (they match the tokens' strings, special ones
// included); since the answer leaves special tokens out, a stop string never matches inside one,
// nor across one and the text around it.

import type { StreamDecoder } from '../tokenizer/stream-decoder.ts';
import { comparable, StopStringStream } from './stop-strings.ts';

/** What an answer needs of the tokenizer (tokenizer.ts's Tokenizer). */
export interface AnswerTokenizer {
  streamDecoder(opts: { skipSpecialTokens: boolean }): StreamDecoder;
  readonly specialIds: ReadonlySet<number>;
  idToToken(id: number): string | undefined;
}

export class AnswerStream {
  readonly #decoder: StreamDecoder;
  readonly #text: StopStringStream;
  /** Special tokens whose text is one of the stop strings. */
  readonly #stopIds = new Set<number>();

  /** `emit` gets the answer piece by piece: never a stop string nor anything after it. */
  constructor(tok: AnswerTokenizer, stops: readonly string[], emit: (text: string) => void) {
    this.#decoder = tok.streamDecoder({ skipSpecialTokens: true });
    this.#text = new StopStringStream(stops, emit);
    const wanted = new Set(stops.filter((s) => s.length > 0).map(comparable));
    if (wanted.size)
      for (const id of tok.specialIds) {
        const content = tok.idToToken(id);
        if (content !== undefined && wanted.has(comparable(content))) this.#stopIds.add(id);
      }
  }

  push(id: number): void {
    if (this.#text.stopped) return;
    const piece = this.#decoder.push(id);
    if (piece) this.#text.push(piece);
    if (this.#stopIds.has(id)) {
      // The answer ends before this token: what its decoder still held is part of it.
      this.#flushDecoder();
      this.#text.end();
    }
  }

  /** At the end of generation: shows what was held back (no stop string followed it). */
  finish(): void {
    this.#flushDecoder();
    this.#text.flush();
  }

  /** Whether a stop string has ended the answer. */
  get stopped(): boolean {
    return this.#text.stopped;
  }

  /** The answer so far (all of it after finish). */
  get text(): string {
    return this.#text.text;
  }

  #flushDecoder(): void {
    const rest = this.#decoder.flush();
    if (rest) this.#text.push(rest);
  }
}
