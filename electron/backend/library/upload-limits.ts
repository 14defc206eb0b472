// How much a window may upload, per kind of import. Kept apart from transfers.ts (which reads and
// writes files through node:fs) so that the renderer imports the same numbers, and the same words,
// to refuse early.

import { byteSize } from '../../../native-runtime/byte-size.ts';

/** What an upload is for, with its limits. Another importer adds its kind here. */
export const UPLOAD_LIMITS = {
  adapter: { maxBytes: 1e9, maxFiles: 2000 },
  dataset: { maxBytes: 4e9, maxFiles: 100 },
} as const;
export type UploadKind = keyof typeof UPLOAD_LIMITS;

/**
 * The limits of an upload in words, byteSize's, for the backend's refusal and the window's early
 * one alike: "a dataset upload takes at most 4.0 GB in 100 files".
 */
export function uploadLimitText(kind: UploadKind): string {
  const l = UPLOAD_LIMITS[kind];
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  return `${article} ${kind} upload takes at most ${byteSize(l.maxBytes)} in ${l.maxFiles} files`;
}
