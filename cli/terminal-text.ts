// Text the CLI shows on a terminal, with its control characters made visible. Much of what it prints
// comes from files it was given — a CSV header, a config.json value, a rejected dataset line — or
// from a model's output, and a terminal acts on control characters instead of showing them: ESC ] 52
// writes the clipboard, ESC ] 0 sets the window title, ESC [ 2 J clears the screen, CR overwrites
// the line. Newlines and tabs are kept; every other C0 or C1 control and DEL is shown as \xNN
// (native-runtime/control-characters.ts, which the studio's RPC errors use too).
// --json output is left alone (JSON.stringify already escapes C0 controls for the programs reading it).

import { visibleControls } from '../native-runtime/control-characters.ts';
import { displayWidth, fittingLength } from './display-width.ts';

/** A writer that passes text on with its control characters made visible. */
export function visibleWriter(write: (s: string) => void): (s: string) => void {
  return (s) => write(visibleControls(s));
}

/**
 * `value` as one line of JSON that stays valid JSON through visibleWriter and is safe on a terminal:
 * JSON.stringify escapes C0 controls but leaves DEL and the C1 controls raw, which visibleWriter would
 * turn into `\xNN` (not JSON); escaped as `\u00NN` they mean the same and nothing is left to act on.
 * For the JSON events a streaming command writes to stderr with --json.
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * `text` cut after `max` terminal columns with a marker saying how long it is (the stored text stays
 * whole): a 20 MB prompt or a long model answer would otherwise flood the terminal. Columns are
 * display-width.ts's: a CJK character or an emoji takes two, and the cut falls between grapheme
 * clusters, never inside an emoji or a surrogate pair. The length in the marker is in code points.
 */
export function cutText(text: string, max: number): string {
  const end = fittingLength(text, max);
  if (end >= text.length) return text;
  // Counting pairs walks the text: a 20 MB answer without any is told so by one native search.
  let chars = text.length;
  if (/[\uD800-\uDBFF]/.test(text)) for (let i = 0; i < text.length - 1; i++) if (isPairAt(text, i)) chars--;
  return `${text.slice(0, end)}… (${chars.toLocaleString('en')} characters in all; --json shows it whole)`;
}

/** Whether a surrogate pair (one code point in two units) starts at unit `i`. */
function isPairAt(text: string, i: number): boolean {
  const hi = text.charCodeAt(i);
  if (hi < 0xd800 || hi > 0xdbff) return false;
  const lo = text.charCodeAt(i + 1);
  return lo >= 0xdc00 && lo <= 0xdfff;
}

/**
 * One line of text as lines of at most `width` terminal columns: broken at the last space that fits,
 * or within a word where none does (a folder path, a CJK sentence); the first line starts with
 * `first`, the others with `hanging`. An empty text is one empty line. Columns and breaks are
 * display-width.ts's, as cutText's: a break never splits a grapheme cluster (an emoji, an accented
 * letter), and a cluster wider than the room left (a CJK character in one column) goes on a line alone.
 */
export function wrapText(text: string, width: number, hanging = '', first = ''): string[] {
  const lines: string[] = [];
  let rest = text; // what is not yet on a line
  let indent = first;
  for (;;) {
    const room = Math.max(1, width - displayWidth(indent));
    const fits = fittingLength(rest, room);
    if (fits === rest.length) break; // the rest fits on this line
    const space = rest.lastIndexOf(' ', fits); // the last space that fits, not a leading one
    // A cluster takes at most two columns: the first one, and what joins it, fits in two.
    const cut = space > 0 ? space : fits || fittingLength(rest, 2);
    if (cut === rest.length) break; // one wide cluster left, on this line alone
    lines.push(indent + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart(); // the next line starts at a word
    indent = hanging;
  }
  lines.push(indent + rest);
  return lines;
}
