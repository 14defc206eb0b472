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
 * a 20 MB prompt or a long model answer would otherwise flood the terminal.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length.toLocaleString('en')} characters in all; --json shows it whole)`;
}

/**
 * One line of text as lines of at most `width` columns: broken at the last space that fits, or
 * within a word where none does (a folder path); the first line starts with `first`, the others with
 * `hanging`. An empty text is one empty line.
 */
export function wrapText(text: string, width: number, hanging = '', first = ''): string[] {
  const lines: string[] = [];
  let rest = text;
  let indent = first;
  while (indent.length + rest.length > width) {
    const room = Math.max(1, width - indent.length);
    const space = rest.lastIndexOf(' ', room);
    const cut = space > 0 ? space : room;
    lines.push(indent + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    indent = hanging;
  }
  lines.push(indent + rest);
  return lines;
}
