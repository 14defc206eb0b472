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
