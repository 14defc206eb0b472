// Errors as people read them in the window. Node's own file errors ("ENOENT: no such file or
// directory, open '/tmp/reft-calibrate-x1/…'") say neither what was missing in words nor where in
// terms the person knows: here they become a phrase and a place — a file in the data folder is named
// relative to it, a temporary file by its name only — with a stable code per kind of failure.
// The studio's own errors (ReftError) keep their code; only errno fragments inside them are rewritten,
// and the CLI's flags in their hints become the window's words.

import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { ErrorDetails, WireError } from '../../../native-runtime/errors.ts';
import { errnoWords, plainError } from '../../../native-runtime/fs-errors.ts';
import { databaseDiskError } from '../db/disk-full.ts';

function inside(dir: string, p: string): string | null {
  const rel = relative(resolve(dir), resolve(p));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : null;
}

/** A path as people should see it: data-folder files relative to it, temporary files by name. */
export function showPath(p: string, dataDir: string): string {
  const inData = inside(dataDir, p);
  if (inData !== null) return `${inData} in the data folder`;
  if (inside(tmpdir(), p) !== null) return `the temporary file ${basename(p)}`;
  return p;
}

/** Rewrites errno fragments in a message (fs-errors.ts) and shows paths as people know them. */
export function cleanMessage(message: string, dataDir: string): string {
  return errnoWords(message, (p) => showPath(p, dataDir))
    .replace(pathsIn(resolve(dataDir)), (p) => showPath(p, dataDir))
    .replace(pathsIn(join(resolve(tmpdir()), 'reft-')), (p) => showPath(p, dataDir));
}

/** Absolute paths under `prefix` in free text (up to a space, quote or punctuation that ends it). */
function pathsIn(prefix: string): RegExp {
  return new RegExp(`${escapeRe(prefix)}[^\\s'",;:)]*`, 'g');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The engine's hints name the CLI's flags ("give --model ID|DIR"); the window has a control for each
 * instead, so its messages name what to choose there.
 */
const WINDOW_WORDS: Array<[RegExp, string]> = [
  // The library models a pyreft folder's shapes fit, named for --model as `"qwen2" (id 3)`: the
  // window's Base model choice lists them by name alone, so the id (seen nowhere there) goes.
  [/" \(id \d+\)(?=, "|; give --model | \(the only library model )/g, '"'],
  [/; give --model ID\|DIR/g, '; choose its base model and import it again'],
  // The window's Base model choice lists library models only: a folder is added on the Models page.
  [
    / to the library \(models add DIR\) or give its folder with --model DIR/g,
    ' on the Models page and import it again',
  ],
  [/; --model to choose another/g, '; choose another base model to change that'],
  [/ \(give --positions to change\)/g, ' (give its positions to change that)'],
  // The runtime pack's errors start with the CLI command and name its --from flag; in Settings the
  // package is the path typed (or chosen) beside the install button.
  [/^runtime (?:install|remove): /, ''],
  [/ with --from\b/g, ''],
];

/** A message with the CLI's hints said as the window says them. */
export function windowWords(message: string): string {
  return WINDOW_WORDS.reduce((m, [re, words]) => m.replace(re, words), message);
}

/**
 * What to do about a file whose columns fit no format (`details.mapping`, set by dataset-formats.ts):
 * the import form offers the columns (`details.columns`) to choose from. The CLI says --map instead.
 */
function chooseColumnsHint(details: ErrorDetails | undefined): string {
  const m = details?.mapping;
  if (!m) return '';
  return 'messages' in m
    ? ': choose it as the conversation'
    : '; choose which column is the prompt and which the completion';
}

/** toWireError for the window: Node file errors translated, errno fragments rewritten. */
export function toUserError(err: unknown, dataDir: string): WireError {
  const w = plainError(databaseDiskError(err, dataDir), (p) => showPath(p, dataDir));
  if (w.type === 'FileError') return { ...w, message: cleanMessage(w.message, dataDir) };
  return { ...w, message: windowWords(cleanMessage(w.message, dataDir)) + chooseColumnsHint(w.details) };
}
