// Text the CLI shows on a terminal, with its control characters made visible. Much of what it prints
// comes from files it was given — a CSV header, a config.json value, a rejected dataset line — or
// from a model's output, and a terminal acts on control characters instead of showing them: ESC ] 52
// writes the clipboard, ESC ] 0 sets the window title, ESC [ 2 J clears the screen, CR overwrites
// the line. Newlines and tabs are kept; every other C0 or C1 control and DEL is shown as \xNN.
// --json output is left alone (JSON.stringify already escapes C0 controls for the programs reading it).

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with control characters other than newline and tab written as `\xNN`. */
export function visibleControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A writer that passes text on with its control characters made visible. */
export function visibleWriter(write: (s: string) => void): (s: string) => void {
  return (s) => write(visibleControls(s));
}
