// Whether generation and training can use a model folder's tokenizer, as `models scan` judges it:
// there is a tokenizer.json, and it is not refused when read (a pattern that can backtrack for
// hours, tokenizer/pattern-check.ts; JSON that does not parse; a file over the size cap). The
// library's listing asks this for every model, so a tokenizer.json edited after the model was
// added shows as refused there, not only when something loads it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { toWireError } from '../../../native-runtime/errors.ts';
import { fileStamp, noTokenizerReason } from '../../../native-runtime/models/model-folder.ts';
import { checkTokenizerFile } from '../../../native-runtime/tokenizer/tokenizer.ts';

export interface TokenizerProblem {
  code: string;
  message: string;
}

/**
 * The last answer per tokenizer.json, with the file's identity and change time when it was given:
 * the Models page lists every model on each change in the library, and reading a real tokenizer
 * again each time (several MB) would be waste when the file has not changed.
 */
const answers = new Map<string, { stamp: string; problem: TokenizerProblem | null }>();
/** More folders than a library holds; past it the cache starts over rather than grow. */
const MAX_ANSWERS = 1000;

/** Why generation and training cannot use `dir`'s tokenizer, or null. */
export function tokenizerProblem(dir: string): TokenizerProblem | null {
  const file = join(dir, 'tokenizer.json');
  if (!existsSync(file))
    return { code: 'no-tokenizer', message: `${noTokenizerReason(dir)}: generation and training need one` };
  const stamp = fileStamp(file); // '-': gone or unreadable since existsSync, said below
  const known = answers.get(file);
  if (known && stamp !== '-' && known.stamp === stamp) return known.problem;
  let problem: TokenizerProblem | null = null;
  try {
    checkTokenizerFile(dir);
  } catch (e) {
    const w = toWireError(e);
    problem = { code: w.code, message: w.message };
  }
  if (answers.size >= MAX_ANSWERS) answers.clear();
  if (stamp !== '-') answers.set(file, { stamp, problem });
  return problem;
}
