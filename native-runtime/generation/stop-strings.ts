// Stop strings on streamed text. A row stops once its text contains one of them, and the answer is
// cut before it; what was streamed must be that answer too, so a piece that could begin a stop
// string ("\n" of "\n\n", "Us" of "User:") is held back until the next piece says whether it does.

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

/** The text before the first stop string in `text` (all of it when none occurs). */
export function cutAtStop(text: string, stops: readonly string[]): string {
  let at = -1;
  for (const s of stops) {
    const i = s ? text.indexOf(s) : -1;
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? text : text.slice(0, at);
}

/** Length of the longest end of `text` that is the start of a stop string (0 when none). */
function heldLength(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > held; k--)
      if (text.endsWith(s.slice(0, k))) {
        held = k;
        break;
      }
  return held;
}

/**
 * Passes streamed pieces on to `emit`, never a stop string nor anything after it: the end that
 * could begin one waits for the next piece (or for flush, at the end of generation).
 */
export class StopStringStream {
  readonly #stops: readonly string[];
  readonly #emit: (text: string) => void;
  #pending = '';
  #stopped = false;

  constructor(stops: readonly string[], emit: (text: string) => void) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#emit = emit;
  }

  push(piece: string): void {
    if (this.#stopped) return;
    const text = this.#pending + piece;
    const before = cutAtStop(text, this.#stops);
    if (before.length < text.length) {
      this.#stopped = true;
      this.#pending = '';
      if (before) this.#emit(before);
      return;
    }
    const keep = heldLength(text, this.#stops);
    this.#pending = text.slice(text.length - keep);
    if (keep < text.length) this.#emit(text.slice(0, text.length - keep));
  }

  /** Emits what was held back: no stop string followed it. */
  flush(): void {
    if (!this.#stopped && this.#pending) this.#emit(this.#pending);
    this.#pending = '';
  }
}
