// How much a window may upload, per kind of import. Kept apart from transfers.ts (which reads and
// writes files through node:fs) so that the renderer imports the same numbers to refuse early.

/** What an upload is for, with its limits. Another importer adds its kind here. */
export const UPLOAD_LIMITS = {
  adapter: { maxBytes: 1e9, maxFiles: 2000 },
  dataset: { maxBytes: 4e9, maxFiles: 100 },
} as const;
export type UploadKind = keyof typeof UPLOAD_LIMITS;
