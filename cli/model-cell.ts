// How a list names the base model of a run or an adapter (`runs list`, `adapters list`): the library
// model's name, as the studio's Runs and Adapters pages name it; where no library model has those
// weights any more, the first 12 hex digits of the fingerprint (what `adapters list --base-model`
// takes), marked * and explained once under the table by notInLibraryNote.

import { oneLineVisible } from '../native-runtime/control-characters.ts';

/** The fingerprint's prefix the lists print: enough to tell, and to pass as --base-model. */
export const shortFingerprint = (fingerprint: string): string => fingerprint.slice(0, 12);

/** A marked fingerprint's width: the least a model column is cut to, so that one is never cut. */
export const MODEL_CELL_MIN = 13;

/** The cell: the model's name, else its fingerprint's prefix marked *, else "-" (nothing known). */
export function modelCell(name: string | null, fingerprint: string | null): string {
  if (name !== null) return oneLineVisible(name); // a newline in it would break the row
  return fingerprint ? `${shortFingerprint(fingerprint)}*` : '-';
}

/** The line under a table whose column `header` has a marked fingerprint. */
export const notInLibraryNote = (header: string): string =>
  `${header} *: not in the library; the first 12 hex digits of its fingerprint`;
