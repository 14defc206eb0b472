// Names people give library entries (datasets, adapters, models): trimmed, 1–200 characters, no
// control characters — a newline in a name breaks every table the CLI prints and every log line —
// and no text-direction characters, which make a name display as something else. Tags follow the
// same character rule (tags.ts).

import { ValidationError } from '../../../native-runtime/errors.ts';

export const MAX_NAME = 200;

// C0 controls, DEL and C1 controls (U+0080–U+009F: terminals act on some, e.g. U+009B starts an
// escape sequence).
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Bidi embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): "report\u202Etxt.exe"
// reads as "reportexe.txt".
const TEXT_DIRECTION = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * What `text` holds that a name or tag cannot ("control characters", "a text-direction character
 * (U+202E)"), or null.
 */
export function hiddenCharacterProblem(text: string): string | null {
  if (CONTROL.test(text)) return 'control characters';
  const bidi = TEXT_DIRECTION.exec(text)?.[0];
  if (bidi === undefined) return null;
  const code = (bidi.codePointAt(0) as number).toString(16).toUpperCase();
  return `a text-direction character (U+${code}), which can make it read as another`;
}

/** The name trimmed, or a 'bad-name' ValidationError; `what` is 'dataset', 'adapter', 'model'. */
export function checkName(name: string, what: string): string {
  const n = name.trim();
  const a = /^[aeiou]/.test(what) ? 'an' : 'a';
  if (!n) throw new ValidationError('bad-name', `${a} ${what} needs a name`);
  if (n.length > MAX_NAME)
    throw new ValidationError('bad-name', `${a} ${what} name is at most ${MAX_NAME} characters`);
  const hidden = hiddenCharacterProblem(n);
  if (hidden) throw new ValidationError('bad-name', `${a} ${what} name cannot hold ${hidden}`);
  return n;
}
