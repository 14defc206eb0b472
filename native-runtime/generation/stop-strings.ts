// Stop strings on streamed text. A row stops once its text contains one of them, and the answer is
// cut before it (the stop string itself is not shown: OpenAI's and vLLM's `stop` do the same);
// what was streamed must be that answer too, so a piece that could begin a stop string ("\n" of
// "\n\n", "Us" of "User:") is held back until the next piece says whether it does.
//
// Texts are compared as Unicode defines equal text (canonical equivalence), not code unit by code
// unit: an "é" typed as one code point stops an answer that writes e + U+0301, and the reverse. A
// stop string matches whole characters only, so "e" does not stop at the e of e + U+0301; but one
// that ends the text so far is taken at once, as a mark that might follow is not waited for (that
// would cost a token at every stop). The answer is shown as the model wrote it, never normalized.

/**
 * Stop strings written one a line (the Playground's field): "\n" is a line break, "\t" a tab and
 * "\\" a backslash, so that the most common stop, a blank line, can be written ("\n\n"). Empty
 * lines are no stop string.
 */
export function parseStopLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) =>
      line.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\')),
    )
    .filter((s) => s.length > 0);
}

/** The form texts are compared in: canonically equal texts have the same one. */
export function comparable(text: string): string {
  return text.normalize('NFD');
}

/**
 * Code points that belong to the character before them: combining marks (U+0301 after e), and the
 * vowel and final jamo that make one Hangul syllable with the leading jamo before them.
 */
const ATTACHED = /^[\p{M}\u1160-\u11FF\uD7B0-\uD7FF]$/u;

/** A text in comparable form, with where each of its characters starts there and in the text. */
interface Comparable {
  form: string;
  /** Offset in `form` where a character starts (and the end) → its offset in the text. */
  starts: Map<number, number>;
}

function toComparable(text: string): Comparable {
  let form = '';
  const starts = new Map<number, number>();
  let char = '';
  let at = 0;
  const close = () => {
    if (!char) return;
    starts.set(form.length, at);
    form += comparable(char);
  };
  let i = 0;
  for (const c of text) {
    if (!(char && ATTACHED.test(c))) {
      close();
      char = '';
      at = i;
    }
    char += c;
    i += c.length;
  }
  close();
  starts.set(form.length, text.length);
  return { form, starts };
}

/** Where in the text the earliest stop string begins (-1 when none occurs whole). */
function stopAt(t: Comparable, stops: readonly string[]): number {
  let first = -1;
  for (const s of stops)
    for (let i = t.form.indexOf(s); i >= 0; i = t.form.indexOf(s, i + 1)) {
      const from = t.starts.get(i);
      if (from !== undefined && t.starts.has(i + s.length)) {
        if (first < 0 || from < first) first = from;
        break;
      }
    }
  return first;
}

/** Where the longest end of the text that is the start of a stop string begins (its length when none). */
function heldFrom(t: Comparable, stops: readonly string[], textLength: number): number {
  const longest = Math.max(0, ...stops.map((s) => s.length));
  // Ascending starts: the first that begins a stop string holds the most.
  for (const [i, from] of t.starts) {
    const tail = t.form.slice(i);
    if (!tail || tail.length >= longest) continue;
    if (stops.some((s) => s.length > tail.length && s.startsWith(tail))) return from;
  }
  return textLength;
}

/**
 * Passes streamed pieces on to `emit`, never a stop string nor anything after it: the end that
 * could begin one waits for the next piece (or for flush, at the end of generation).
 */
export class StopStringStream {
  /** In comparable form; an empty one is in every text and stops nothing. */
  readonly #stops: readonly string[];
  readonly #emit: (text: string) => void;
  #pending = '';
  #stopped = false;
  #text = '';

  constructor(stops: readonly string[], emit: (text: string) => void) {
    this.#stops = stops.filter((s) => s.length > 0).map(comparable);
    this.#emit = emit;
  }

  push(piece: string): void {
    if (this.#stopped) return;
    const text = this.#pending + piece;
    const t = toComparable(text);
    const at = stopAt(t, this.#stops);
    if (at >= 0) {
      this.#stopped = true;
      this.#pending = '';
      this.#out(text.slice(0, at));
      return;
    }
    const keep = heldFrom(t, this.#stops, text.length);
    this.#pending = text.slice(keep);
    this.#out(text.slice(0, keep));
  }

  /** Emits what was held back: no stop string followed it. */
  flush(): void {
    if (!this.#stopped) this.#out(this.#pending);
    this.#pending = '';
  }

  /** Ends the answer here (a stop that is no text, such as a special token): what was held is shown. */
  end(): void {
    this.flush();
    this.#stopped = true;
  }

  /** Whether a stop string (or end) has ended the answer. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** All text emitted: the answer so far. */
  get text(): string {
    return this.#text;
  }

  #out(text: string): void {
    if (!text) return;
    this.#text += text;
    this.#emit(text);
  }
}
