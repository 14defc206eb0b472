// Text the CLI shows on a terminal, with its control characters made visible. Much of what it prints
// comes from files it was given — a CSV header, a config.json value, a rejected dataset line — or
// from a model's output, and a terminal acts on control characters instead of showing them: ESC ] 52
// writes the clipboard, ESC ] 0 sets the window title, ESC [ 2 J clears the screen, CR overwrites
// the line. Newlines and tabs are kept; every other C0 or C1 control and DEL is shown as \xNN
// (native-runtime/control-characters.ts, which the studio's RPC errors use too).
// --json output is left alone (JSON.stringify already escapes C0 controls for the programs reading it).

import { visibleControls } from '../native-runtime/control-characters.ts';

/** A writer that passes text on with its control characters made visible. */
export function visibleWriter(write: (s: string) => void): (s: string) => void {
  return (s) => write(visibleControls(s));
}

/**
 * `text` cut after `max` characters with a marker saying how long it is (the stored text stays whole):
 * a 20 MB prompt or a long model answer would otherwise flood the terminal. Characters are code
 * points: a cut by UTF-16 units could split an emoji's surrogate pair, left as a lone half.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text; // never more code points than units
  let end = 0;
  for (let n = 0; n < max && end < text.length; n++) end += isPairAt(text, end) ? 2 : 1;
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
 * One line of text as lines of at most `width` characters: broken at the last space that fits, or
 * within a word where none does (a folder path); the first line starts with `first`, the others with
 * `hanging`. An empty text is one empty line. Characters are code points, as cutText counts them: a
 * break by UTF-16 units could split an emoji's surrogate pair across two lines.
 */
export function wrapText(text: string, width: number, hanging = '', first = ''): string[] {
  const chars = Array.from(text);
  const lines: string[] = [];
  let start = 0; // the first character not yet on a line
  let indent = first;
  while (indent.length + chars.length - start > width) {
    const room = Math.max(1, width - indent.length);
    let cut = start + room;
    while (cut > start && chars[cut] !== ' ') cut--; // the last space that fits, not a leading one
    if (cut === start) cut = start + room;
    lines.push(indent + chars.slice(start, cut).join('').trimEnd());
    start = cut;
    while (chars[start]?.trim() === '') start++; // the next line starts at a word (trimStart)
    indent = hanging;
  }
  lines.push(indent + chars.slice(start).join(''));
  return lines;
}
