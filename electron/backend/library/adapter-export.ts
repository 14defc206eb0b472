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
import { join, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import type { Engine } from '../jobs/engine.ts';
import { checkRunDataKept, getAdapter, runTrainingSource } from './adapters.ts';
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
  opts: { absoluteOnly?: boolean } = {},
): Promise<AdapterExport> {
  const out = checkExportDestination(input.out, {
    dataDir: lib.dataDir,
    force: input.force,
    absoluteOnly: opts.absoluteOnly,
  });
  return engine.call('exportAdapter', { job: planExport(lib, { ...input, out }) });
}

/** What exporting adapter `id` in `format` to `out` writes, from the library (no file is touched). */
function planExport(
  lib: Library,
  input: { id: number; out: string; format?: ExportFormat; force?: boolean },
): ExportJob {
  const a = getAdapter(lib, input.id);
  const base = { out: resolve(input.out), force: input.force };
  const format = input.format ?? 'pyreft';
  if (format !== 'bundle') return { ...base, format, adapterPath: a.path };
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
): Promise<DownloadInfo & Omit<AdapterExport, 'out'>> {
  const a = getAdapter(lib, input.id);
  const format = input.format ?? 'pyreft';
  const stem = `${fileStem(a.name)}-${format}`;
  const { downloadId, file } = reserveDownload(lib);
  const workDir = join(lib.dataDir, 'downloads', `.work-${randomBytes(6).toString('hex')}`);
  const job = planExport(lib, { id: a.id, out: join(workDir, stem), format });
  const { sizeBytes, ...rest } = await engine.call('exportAdapterZip', { job, zip: { workDir, stem, file } });
  return { downloadId, fileName: `${stem}.zip`, sizeBytes, ...rest };
}
