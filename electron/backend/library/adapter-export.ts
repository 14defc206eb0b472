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
// into its own work folder and skips them. This module decides what to write from the library; the
// writing and zipping (export-writer.ts) run in the engine's 'files' worker, off the RPC loop.

import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import {
  folderLeftoverNames,
  isFileTemp,
  sweepFolderLeftovers,
} from '../../../native-runtime/formats/atomic-write.ts';
import type { Engine } from '../jobs/engine.ts';
import { checkRunDataKept, exportLineage, getAdapter, runTrainingSource } from './adapters.ts';
import { checkExportDestination } from './export-destination.ts';
import type { AdapterExport, ExportFormat, ExportJob } from './export-writer.ts';
import type { Library } from './library.ts';
import { type DownloadInfo, reserveDownload } from './transfers.ts';

export { type AdapterExport, EXPORT_FORMATS, type ExportFormat } from './export-writer.ts';

/**
 * Writes adapter `id` in `format` to folder `out`, after checking the destination (see
 * export-destination.ts; `absoluteOnly` for paths that come over RPC), marked as an export.
 */
export async function exportLibraryAdapter(
  lib: Library,
  engine: Engine,
  input: { id: number; out: string; format?: ExportFormat; force?: boolean },
  opts: { absoluteOnly?: boolean; signal?: AbortSignal } = {},
): Promise<AdapterExport> {
  const out = checkExportDestination(input.out, {
    dataDir: lib.dataDir,
    force: input.force,
    absoluteOnly: opts.absoluteOnly,
  });
  return writeExportStoppable(engine, planExport(lib, { ...input, out }), opts.signal);
}

/**
 * Writes `job` in the engine; aborting `signal` stops it mid-write, leaving the destination as it
 * was: no temp folder of its own beside it, a previous export it had moved aside put back.
 */
export async function writeExportStoppable(
  engine: Engine,
  job: ExportJob,
  signal?: AbortSignal,
): Promise<AdapterExport> {
  // Another process's write in progress beside the same folder is not this export's to clear.
  const others = folderLeftoverNames(job.out);
  try {
    return await engine.call('exportAdapter', { job }, stoppedBy(signal));
  } catch (e) {
    if (signal?.aborted) sweepFolderLeftovers(job.out, 0, others);
    throw e;
  }
}

/**
 * The write never hears a cancel (it is synchronous in the 'files' process): `signal` kills that
 * process instead, when the export is its only call, as a speed measurement's (engine.ts killOnAbort).
 */
function stoppedBy(signal: AbortSignal | undefined) {
  return signal ? { signal, killOnAbort: true } : {};
}

/** What exporting adapter `id` in `format` to `out` writes, from the library (no file is touched). */
function planExport(
  lib: Library,
  input: { id: number; out: string; format?: ExportFormat; force?: boolean },
): ExportJob {
  const a = getAdapter(lib, input.id);
  const base = { out: resolve(input.out), force: input.force };
  const format = input.format ?? 'pyreft';
  if (format === 'pyreft')
    return {
      ...base,
      format,
      adapterPath: a.path,
      precision: a.precision,
      lineage: exportLineage(lib, a.id),
    };
  if (format !== 'bundle') return { ...base, format, adapterPath: a.path, precision: a.precision };
  if (a.runId === null)
    throw new ValidationError(
      'no-run',
      `"${a.name}" was not trained in this library (or its run was deleted), so there is no run to bundle`,
    );
  const src = runTrainingSource(lib, a.runId);
  checkRunDataKept(lib, a.runId, src.data, 'export the adapter as pyreft or studio instead');
  return { ...base, format, runId: a.runId, ...src };
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
export async function exportLibraryAdapterZip(
  lib: Library,
  engine: Engine,
  input: { id: number; format?: ExportFormat },
  signal?: AbortSignal,
): Promise<DownloadInfo & Omit<AdapterExport, 'out'>> {
  const a = getAdapter(lib, input.id);
  const format = input.format ?? 'pyreft';
  const stem = `${fileStem(a.name)}-${format}`;
  const { downloadId, file } = reserveDownload(lib);
  const workDir = join(lib.dataDir, 'downloads', `.work-${randomBytes(6).toString('hex')}`);
  const job = planExport(lib, { id: a.id, out: join(workDir, stem), format });
  const { sizeBytes, ...rest } = await writeExportZipStoppable(engine, job, { workDir, stem, file }, signal);
  return { downloadId, fileName: `${stem}.zip`, sizeBytes, ...rest };
}

/** writeExportZip in the engine; aborting `signal` stops it mid-write, leaving nothing of it. */
export async function writeExportZipStoppable(
  engine: Engine,
  job: ExportJob,
  zip: { workDir: string; stem: string; file: string },
  signal?: AbortSignal,
): Promise<Omit<AdapterExport, 'out'> & { sizeBytes: number }> {
  try {
    return await engine.call('exportAdapterZip', { job, zip }, stoppedBy(signal));
  } catch (e) {
    // The killed process removed neither its work folder nor the zip's temp file.
    if (signal?.aborted) removeZipLeftovers(zip.workDir, zip.file);
    throw e;
  }
}

/** An export zip's work folder and writeFileAtomic's temp file of it (`FILE.<hex>.tmp`). */
function removeZipLeftovers(workDir: string, file: string): void {
  rmSync(workDir, { recursive: true, force: true });
  for (const name of readdirSync(dirname(file)))
    if (name.startsWith(`${basename(file)}.`) && isFileTemp(name))
      rmSync(join(dirname(file), name), { force: true });
}
