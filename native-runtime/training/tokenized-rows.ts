// The tokenized examples of a run, packed: every example's token ids in one Int32Array, and its
// line, prompt length and truncation in typed arrays beside it. A million short examples held as
// objects with their own id arrays took ~230 MB of heap (an Int32Array each took more: a typed
// array's header outweighs 15 ids); packed they take 4 bytes a token and 13 bytes an example.
// Token ids are exact in an Int32Array (every id was checked to be below the vocabulary size), so
// batches built from it are the same bit for bit.

import { grown } from '../typed-arrays.ts';

/** One example read back: `ids` is a view into the packed ids (not a copy). */
export interface StoredExample {
  line: number;
  ids: Int32Array;
  /** Number of prompt tokens at the start of ids (labels are −100 there). */
  promptLen: number;
  truncated: boolean;
}

/** What a row is made from: data.ts's TokenizedExample, or a StoredExample. */
export interface ExampleIn {
  line: number;
  ids: ArrayLike<number>;
  promptLen: number;
  truncated: boolean;
}

export class TokenizedRows {
  #ids: Int32Array;
  /** ids of example i are #ids[#ends[i − 1] … #ends[i]) (Float64Array: past 2^32 tokens too). */
  #ends: Float64Array;
  #lines: Uint32Array;
  #promptLens: Uint32Array;
  #truncated: Uint8Array;
  #n = 0;

  /** `rows`, `tokens`: room to start with (it grows as needed). */
  constructor(rows = 1024, tokens = rows * 16) {
    this.#ids = new Int32Array(Math.max(tokens, 16));
    this.#ends = new Float64Array(Math.max(rows, 1));
    this.#lines = new Uint32Array(this.#ends.length);
    this.#promptLens = new Uint32Array(this.#ends.length);
    this.#truncated = new Uint8Array(this.#ends.length);
  }

  get length(): number {
    return this.#n;
  }

  /** Tokens held in all. */
  get tokenCount(): number {
    return this.#n ? this.#ends[this.#n - 1] : 0;
  }

  push(ex: ExampleIn): void {
    const start = this.tokenCount;
    const end = start + ex.ids.length;
    if (end > this.#ids.length)
      this.#ids = grown(this.#ids, new Int32Array(Math.max(end, this.#ids.length * 2)));
    if (this.#n === this.#ends.length) {
      const rows = this.#n * 2;
      this.#ends = grown(this.#ends, new Float64Array(rows));
      this.#lines = grown(this.#lines, new Uint32Array(rows));
      this.#promptLens = grown(this.#promptLens, new Uint32Array(rows));
      this.#truncated = grown(this.#truncated, new Uint8Array(rows));
    }
    this.#ids.set(ex.ids, start);
    this.#ends[this.#n] = end;
    this.#lines[this.#n] = ex.line;
    this.#promptLens[this.#n] = ex.promptLen;
    this.#truncated[this.#n] = ex.truncated ? 1 : 0;
    this.#n++;
  }

  #start(i: number): number {
    return i ? this.#ends[i - 1] : 0;
  }

  /** Example i (0 ≤ i < length). */
  at(i: number): StoredExample {
    if (!(i >= 0 && i < this.#n)) throw new RangeError(`no example ${i} of ${this.#n}`);
    return {
      line: this.#lines[i],
      ids: this.#ids.subarray(this.#start(i), this.#ends[i]),
      promptLen: this.#promptLens[i],
      truncated: this.#truncated[i] === 1,
    };
  }

  /** Examples from…to−1 (to capped at length), e.g. a batch. */
  slice(from: number, to: number): StoredExample[] {
    const out: StoredExample[] = [];
    for (let i = from; i < Math.min(to, this.#n); i++) out.push(this.at(i));
    return out;
  }

  /** Token count of example i. */
  tokens(i: number): number {
    return this.#ends[i] - this.#start(i);
  }

  promptLen(i: number): number {
    return this.#promptLens[i];
  }

  line(i: number): number {
    return this.#lines[i];
  }

  /** The longest example's token count (0 when empty). */
  longest(): number {
    let max = 0;
    for (let i = 0; i < this.#n; i++) max = Math.max(max, this.tokens(i));
    return max;
  }

  /** How many examples were cut to the maximum length. */
  truncatedCount(): number {
    let n = 0;
    for (let i = 0; i < this.#n; i++) n += this.#truncated[i];
    return n;
  }

  /** The examples `keep` says yes to, in order, in a new store sized exactly for them. */
  filter(keep: (i: number) => boolean): TokenizedRows {
    let rows = 0;
    let tokens = 0;
    for (let i = 0; i < this.#n; i++)
      if (keep(i)) {
        rows++;
        tokens += this.tokens(i);
      }
    const out = new TokenizedRows(rows, tokens);
    for (let i = 0; i < this.#n; i++) if (keep(i)) out.push(this.at(i));
    return out;
  }
}
