// Where an export (or a trained adapter's --out copy) may be written. Writing a folder replaces it
// whole (temp folder + rename), so a careless destination could delete anything: `adapters/export`
// with force into the library's `datasets` folder once replaced it, losing every frozen dataset.
// The rules, for every path that replaces a user-named folder:
//   - never inside the data folder, nor a folder that contains it (symlinks resolved);
//   - over RPC, only absolute paths (the server's working folder means nothing to a window);
//   - an existing folder is replaced only when it is empty or a previous export: a folder holding
//     EXPORT_MARKER, written by the studio with every export's files (formats/export-marker.ts),
//     that lists every entry the folder has. A file added by hand, a training `result/` inside a
//     bundle, or any folder the studio did not write is never replaced. Replacing a previous export
//     needs `force` where the caller has it.
//   - what a killed export left beside the folder (writeFolderAtomic's `.NAME.TAG.tmp` / `.old`) is
//     cleared first, once old enough not to be another process's write in progress.

import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { sweepFolderLeftovers } from '../../../native-runtime/formats/atomic-write.ts';
import { EXPORT_MARKER, type ExportMarker } from '../../../native-runtime/formats/export-marker.ts';

export { EXPORT_MARKER };

export interface DestinationOptions {
  /** The library's data folder: nothing inside it or containing it is a destination. */
  dataDir?: string;
  /** Replace a previous export that is there (an empty or missing folder needs no force). */
  force?: boolean;
  /** Refuse relative paths (RPC: relative to what?). */
  absoluteOnly?: boolean;
  /** Replace a previous export even without `force` (a re-run of `train --out` writes it again). */
  replaceExports?: boolean;
  /** How to name the option in messages, e.g. '--out' or 'the export folder'. */
  label?: string;
}

/** The real path of `p`, resolving symlinks in the part of it that exists. */
function realPath(p: string): string {
  const abs = resolve(p);
  if (existsSync(abs)) return realpathSync(abs);
  const parent = dirname(abs);
  return parent === abs ? abs : join(realPath(parent), basename(abs));
}

function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The temp file of a marker being written (writeFileAtomic's `NAME.<12 hex>.tmp`), left by a kill
 * in versions that wrote the marker after the folder.
 */
const MARKER_TEMP_RE = /^\.reft-studio-export\.json\.[0-9a-f]{12}\.tmp$/;

function readMarker(file: string): ExportMarker | null {
  try {
    const marker = JSON.parse(readFileSync(file, 'utf8')) as ExportMarker;
    return marker?.writtenBy === 'reft-studio' && Array.isArray(marker.files) ? marker : null;
  } catch {
    return null;
  }
}

/**
 * Whether `dir` is a folder the studio exported and nobody has added to since. An export killed by an
 * earlier version while its marker was being written (the folder complete, the marker still in its
 * temp file) counts too when that temp holds the whole marker: else the next export to the folder,
 * even with --force, was refused as "files the studio did not export".
 */
export function isPreviousExport(dir: string): boolean {
  const names = readdirSync(dir);
  const temps = names.filter((n) => MARKER_TEMP_RE.test(n));
  const marker =
    readMarker(join(dir, EXPORT_MARKER)) ??
    temps.map((t) => readMarker(join(dir, t))).find((m) => m !== null) ??
    null;
  if (!marker) return false;
  const known = new Set([...marker.files, EXPORT_MARKER, ...temps]);
  return names.every((name) => known.has(name));
}

/**
 * Checks that `out` may receive an export and returns it resolved. Codes: 'relative-path',
 * 'inside-data-folder', 'out-exists' (a file), 'out-not-empty' (a previous export, without force),
 * 'out-not-export' (a folder the studio did not write, or one with files added since).
 */
export function checkExportDestination(out: string, opts: DestinationOptions = {}): string {
  const label = opts.label ?? 'the export folder';
  const given = out.trim();
  if (!given) throw new ValidationError('missing-out', `give ${label}`);
  const shown = given.length > 200 ? `${given.slice(0, 200)}…` : given;
  if (given.includes('\0')) throw new ValidationError('bad-path', `${label} contains a NUL character`);
  if (opts.absoluteOnly && !isAbsolute(given))
    throw new ValidationError(
      'relative-path',
      `${label} "${shown}" is relative; give an absolute path on the studio's machine`,
    );
  const target = resolve(given);
  if (opts.dataDir) {
    const data = realPath(opts.dataDir);
    const real = realPath(target);
    if (within(data, real) || within(real, data))
      throw new ValidationError(
        'inside-data-folder',
        `${label} ${shown} is ${within(data, real) ? 'inside' : 'around'} the library's data folder (${data}); choose a folder outside it`,
      );
  }
  // What an export killed mid-write left beside its folder (no start-up sweep looks outside the data
  // folder): a temp copy removed, a moved-aside previous export put back, and judged below.
  sweepFolderLeftovers(target);
  if (!existsSync(target)) return target;
  if (lstatSync(target).isSymbolicLink() || !statSync(target).isDirectory())
    throw new ValidationError('out-exists', `${label} ${shown} exists and is not a folder`);
  if (readdirSync(target).length === 0) return target;
  if (!isPreviousExport(target))
    throw new ValidationError(
      'out-not-export',
      `${label} ${shown} holds files the studio did not export; choose an empty or new folder`,
    );
  if (!opts.force && !opts.replaceExports)
    throw new ValidationError(
      'out-not-empty',
      `${label} ${shown} holds a previous export; ${label.startsWith('--') ? 'pass --force' : 'tick "Replace an earlier export"'} to replace it`,
    );
  return target;
}
