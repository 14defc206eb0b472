// The marker every export folder carries, `.reft-studio-export.json`: it lists the folder's other
// entries, so that a later export may replace the folder while nothing added by hand is ever deleted
// with it (electron/backend/library/export-destination.ts decides). The marker is one of the files
// of the folder's atomic write, so it arrives in the same rename as the rest: written afterwards, a
// kill between the two left a complete export without it, which every later export refused to
// replace, --force included.

import { type FileData, writeFolderAtomic } from './atomic-write.ts';

export const EXPORT_MARKER = '.reft-studio-export.json';

/** What an export folder holds: an adapter in one of two layouts, or a scale-out training bundle. */
export type ExportKind = 'pyreft' | 'studio' | 'bundle';

export interface ExportMarker {
  writtenBy: 'reft-studio';
  format: string;
  /** Every other entry of the folder. */
  files: string[];
}

/**
 * Creates or replaces folder `dir` with exactly `files` (writeFolderAtomic). When `exportAs` is given
 * the folder is an export of that kind, and its marker, listing `files`, is written with them.
 */
export function writeExportableFolder(
  dir: string,
  files: Array<[string, FileData]>,
  exportAs?: ExportKind,
): void {
  if (!exportAs) {
    writeFolderAtomic(dir, files);
    return;
  }
  const marker: ExportMarker = {
    writtenBy: 'reft-studio',
    format: exportAs,
    files: files.map(([name]) => name).sort(),
  };
  writeFolderAtomic(dir, [...files, [EXPORT_MARKER, `${JSON.stringify(marker, null, 2)}\n`]]);
}
