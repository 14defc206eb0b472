// Exports of a library adapter for the window: to a folder (Electron, or a path on the server) or as
// a zip download, in three formats —
//   pyreft   what `pyreft.ReftModel.load(dir, model)` reads (config.json + intkey_*.bin) plus
//            reft_studio.json; an imported pyreft adapter re-exports its original files byte for byte
//   studio   the studio's own folder (manifest.json + adapter.safetensors), for another studio
//   bundle   the scale-out training folder of the run that made the adapter (adapters/bundle.ts)
// Each answer says in one line what the files are. "Byte for byte" is said only where it is true (the
// original files of an import); nothing is called approximate, because no export is: every format
// carries the adapter's own parameters.
// The destination rules (absolute paths only over RPC, never in or around the data folder, only an
// empty folder or a previous export replaced) are export-destination.ts's; the zip download writes
// into its own work folder and skips them.

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeBundle } from '../../../native-runtime/adapters/bundle.ts';
import { checkOutFolder, exportPyreft, readAnyAdapter } from '../../../native-runtime/adapters/folders.ts';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { writeStudioAdapter } from '../../../native-runtime/formats/studio-adapter.ts';
import { getAdapter, runTrainingSource } from './adapters.ts';
import { checkExportDestination, markExport } from './export-destination.ts';
import type { Library } from './library.ts';
import { type DownloadInfo, folderEntries, makeDownloadZip } from './transfers.ts';

export const EXPORT_FORMATS = ['pyreft', 'studio', 'bundle'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface AdapterExport {
  /** The folder written (absolute). */
  out: string;
  format: ExportFormat;
  files: string[];
  /** pyreft only: true when the files are the imported originals, byte for byte. */
  exact: boolean;
  /** One line for people: what was written. */
  note: string;
}

/**
 * Writes adapter `id` in `format` to folder `out`, after checking the destination (see
 * export-destination.ts; `absoluteOnly` for paths that come over RPC), and marks it as an export.
 */
export function exportLibraryAdapter(
  lib: Library,
  input: { id: number; out: string; format?: ExportFormat; force?: boolean },
  opts: { absoluteOnly?: boolean } = {},
): AdapterExport {
  const out = checkExportDestination(input.out, {
    dataDir: lib.dataDir,
    force: input.force,
    absoluteOnly: opts.absoluteOnly,
  });
  const r = writeAdapterExport(lib, { ...input, out });
  markExport(r.out, r.format);
  return r;
}

/** The export itself, to a folder already checked (or the zip's private work folder). */
function writeAdapterExport(
  lib: Library,
  input: { id: number; out: string; format?: ExportFormat; force?: boolean },
): AdapterExport {
  const a = getAdapter(lib, input.id);
  const out = resolve(input.out);
  const format = input.format ?? 'pyreft';
  if (format === 'pyreft') {
    const r = exportPyreft(a.path, out, { force: input.force });
    return {
      out: r.out,
      format,
      files: r.files,
      exact: r.exact,
      note: r.exact
        ? 'The pyreft files this adapter was imported from, byte for byte, plus reft_studio.json (its positions and base model).'
        : "pyreft's layout (config.json and one intkey_*.bin per intervention) holding this adapter's parameters, plus reft_studio.json (its positions and base model).",
    };
  }
  if (format === 'studio') {
    checkOutFolder(out, a.path, input.force);
    writeStudioAdapter(out, readAnyAdapter(a.path));
    return {
      out,
      format,
      files: ['adapter.safetensors', 'manifest.json'],
      exact: false,
      note: "The studio's adapter format (manifest.json and adapter.safetensors); import it into another ReFT Studio.",
    };
  }
  if (a.runId === null)
    throw new ValidationError(
      'no-run',
      `"${a.name}" was not trained in this library (or its run was deleted), so there is no run to bundle`,
    );
  const src = runTrainingSource(lib, a.runId);
  const r = makeBundle({ config: src.config, data: src.data ?? undefined, out, force: input.force });
  return {
    out: r.out,
    format,
    files: r.files,
    exact: false,
    note: `A pyreft training folder for run ${a.runId} (${r.config.data.rows} examples): pip install pyreft, then torchrun --nproc_per_node N train.py; README.md has the steps.`,
  };
}

/** A file-name-safe version of an adapter's name. */
function fileStem(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[^\w.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'adapter'
  );
}

/** The export as a zip download: one folder inside, named after the adapter and the format. */
export function exportLibraryAdapterZip(
  lib: Library,
  input: { id: number; format?: ExportFormat },
): DownloadInfo & Omit<AdapterExport, 'out'> {
  const a = getAdapter(lib, input.id);
  const format = input.format ?? 'pyreft';
  const stem = `${fileStem(a.name)}-${format}`;
  const work = join(lib.dataDir, 'downloads', `.work-${randomBytes(6).toString('hex')}`);
  mkdirSync(join(lib.dataDir, 'downloads'), { recursive: true });
  try {
    const r = writeAdapterExport(lib, { id: a.id, out: join(work, stem), format });
    const zip = makeDownloadZip(lib, `${stem}.zip`, folderEntries(r.out, stem));
    const { out: _o, ...rest } = r;
    return { ...zip, ...rest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
