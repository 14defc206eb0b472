// Control characters made visible as `\xNN`, for text that is shown to people but may hold what
// someone typed or a file held: a terminal acts on them instead of showing them (ESC ] 52 writes the
// clipboard, ESC ] 0 sets the window title, ESC [ 2 J clears the screen, CR overwrites the line), and
// a newline splits what should read as one line. The CLI's printed text (cli/terminal-text.ts) keeps
// its newlines and tabs; an RPC error's one line (electron/backend/rpc/dispatch.ts) keeps only tabs.

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS_AND_NEWLINES = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** `text` with control characters other than newline and tab written as `\xNN`. */
export function visibleControls(text: string): string {
  return text.replace(CONTROLS, hex);
}

/** `text` as one line: every control character but tab written as `\xNN`, newlines included. */
export function oneLineVisible(text: string): string {
  return text.replace(CONTROLS_AND_NEWLINES, hex);
}

/**
 * `text` as one short line (oneLineVisible), cut after `max` characters with a marker saying how
 * much was left out: for a tool's answer quoted in a message, which may be hundreds of garbage bytes.
 */
export function clippedLine(text: string, max = 80): string {
  const line = oneLineVisible(text);
  return line.length > max ? `${line.slice(0, max)}… (${line.length - max} more characters)` : line;
}
