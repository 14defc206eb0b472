// Names people give library entries (datasets, adapters, models): trimmed, 1–200 characters, no
// control characters — a newline in a name breaks every table the CLI prints and every log line.

import { ValidationError } from '../../../native-runtime/errors.ts';

export const MAX_NAME = 200;

/** The name trimmed, or a 'bad-name' ValidationError; `what` is 'dataset', 'adapter', 'model'. */
export function checkName(name: string, what: string): string {
  const n = name.trim();
  const a = /^[aeiou]/.test(what) ? 'an' : 'a';
  if (!n) throw new ValidationError('bad-name', `${a} ${what} needs a name`);
  if (n.length > MAX_NAME)
    throw new ValidationError('bad-name', `${a} ${what} name is at most ${MAX_NAME} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(n))
    throw new ValidationError('bad-name', `${a} ${what} name cannot hold control characters`);
  return n;
}
