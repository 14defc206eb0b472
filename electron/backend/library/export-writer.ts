// The file work of an adapter export, given plain paths and settings (adapter-export.ts decides them
// from the library): the pyreft folder, the studio folder, or the scale-out bundle (which copies the
// run's dataset, its held-out rows apart), and for a download the zip of it. It touches no database,
// so the studio runs it in the engine's 'files' worker: a bundle of a big dataset takes seconds to
// write and compress (measured 0.5 s + 1–1.7 s for 100,000 rows, 23 MB, on a 2-core EPYC; the rows
// the run trains on are found from the prompts as they are copied, tokenizing only those too short
// to decide by their length, in a pass of their own first for a held-out share: 5–13 s instead of
// 25–50 s there, under load), which on the RPC loop froze every window meanwhile.

import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundleRowsText, makeBundle } from '../../../native-runtime/adapters/bundle.ts';
import {
  checkOutFolder,
  exportPyreft,
  readAnyAdapter,
  withRecordedPrecision,
} from '../../../native-runtime/adapters/folders.ts';
import type { SidecarLineage } from '../../../native-runtime/formats/pyreft.ts';
import { writeStudioAdapter } from '../../../native-runtime/formats/studio-adapter.ts';
import type { Precision } from '../../../native-runtime/runtime/precision-used.ts';
import { zipFolderTo } from './transfers.ts';

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
 * An export to write: everything it needs from the library, as plain data. An adapter's `precision`
 * is the library's record of it, for a manifest that records none.
 */
export type ExportJob = { out: string; force?: boolean } & (
  | {
      format: 'pyreft';
      adapterPath: string;
      precision?: Precision | null;
      /** The library's lineage of it, for reft_studio.json (adapters.ts exportLineage). */
      lineage?: SidecarLineage;
    }
  | { format: 'studio'; adapterPath: string; precision?: Precision | null }
  | {
      format: 'bundle';
      runId: number;
      config: Record<string, unknown> & { model: string };
      data: string | null;
      /** The run's held-out dataset was removed from the library (MakeBundleInput.heldOutRemoved). */
      heldOutRemoved?: boolean;
    }
);

/**
 * Writes the export's folder and says in one line what it holds. The folder carries the export
 * marker (export-destination.ts), in the same atomic write, unless `asExport` is false (a zip's).
 */
export function writeExport(job: ExportJob, { asExport = true } = {}): AdapterExport {
  const out = resolve(job.out);
  if (job.format === 'pyreft') {
    const r = exportPyreft(job.adapterPath, out, {
      force: job.force,
      asExport,
      precision: job.precision,
      lineage: job.lineage,
    });
    return {
      out: r.out,
      format: job.format,
      files: r.files,
      exact: r.exact,
      note: r.exact
        ? 'The pyreft files this adapter was imported from, byte for byte, plus reft_studio.json (its positions, base model and lineage).'
        : "pyreft's layout (config.json and one intkey_*.bin per intervention) holding this adapter's parameters, plus reft_studio.json (its positions, base model, lineage and, where recorded, the precision it was trained in).",
    };
  }
  if (job.format === 'studio') {
    checkOutFolder(out, job.adapterPath, job.force);
    writeStudioAdapter(out, withRecordedPrecision(readAnyAdapter(job.adapterPath), job.precision), {
      asExport,
    });
    return {
      out,
      format: job.format,
      files: ['adapter.safetensors', 'manifest.json'],
      exact: false,
      note: "The studio's adapter format (manifest.json and adapter.safetensors); import it into another ReFT Studio.",
    };
  }
  const r = makeBundle({
    config: job.config,
    data: job.data ?? undefined,
    heldOutRemoved: job.heldOutRemoved,
    out,
    force: job.force,
    asExport,
  });
  return {
    out: r.out,
    format: job.format,
    files: r.files,
    exact: false,
    note: `A pyreft training folder for run ${job.runId} (${bundleRowsText(r.config)}): pip install pyreft, then torchrun --nproc_per_node N train.py; README.md has the steps.`,
  };
}

/**
 * The export as one zip: written into `workDir/stem` (a private folder, removed afterwards whatever
 * happens), then zipped under `stem/` into `file`.
 */
export function writeExportZip(
  job: ExportJob,
  zip: { workDir: string; stem: string; file: string },
): Omit<AdapterExport, 'out'> & { sizeBytes: number } {
  try {
    const { out, ...rest } = writeExport(
      { ...job, out: resolve(zip.workDir, zip.stem) },
      { asExport: false },
    );
    return { ...rest, sizeBytes: zipFolderTo(out, zip.stem, zip.file) };
  } finally {
    rmSync(zip.workDir, { recursive: true, force: true });
  }
}
