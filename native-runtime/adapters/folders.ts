// Adapter folders as the library keeps them, independent of any database:
//   <dir>/adapter.safetensors + manifest.json   the studio format (formats/studio-adapter.ts)
//   <dir>/pyreft/                               for pyreft imports: the original config.json,
//                                               intkey_*.bin (and reft_studio.json) byte for byte,
//                                               so a re-export reproduces the files pyreft wrote
// Import = prepareImport (read and check everything, in memory) + writeLibraryFolder (one rename);
// nothing reaches the destination before the adapter is known to be good, and a failure leaves no
// folder behind. Export writes a pyreft folder atomically and refuses a non-empty --out unless forced.
// Reading never executes code: pyreft files go through the allow-listed pickle reader.
// Left out: the database rows (electron/backend/library/adapters.ts registers the folder).

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ConfigError, FormatError, ReftError } from '../errors.ts';
import {
  copyOf,
  type FileData,
  oldEnough,
  writeFailure,
  writeFolderAtomic,
} from '../formats/atomic-write.ts';
import { writeExportableFolder } from '../formats/export-marker.ts';
import {
  type PyreftAdapter,
  readPyreftFolder,
  SIDECAR_FILE,
  type SidecarLineage,
  writePyreftFolder,
} from '../formats/pyreft.ts';
import {
  inferredShareWeights,
  MANIFEST_FILE,
  pairedPerLayer,
  pyreftToStudio,
  readStudioAdapter,
  type StudioAdapter,
  type StudioAdapterMeta,
  studioAdapterFiles,
  studioToPyreft,
} from '../formats/studio-adapter.ts';
import { plural } from '../plural.ts';
import type { Precision } from '../runtime/precision-used.ts';
import { isUntied, parsePositions } from '../training/positions.ts';
import { checkAdapterForModel, type TargetModel } from './apply.ts';
import { type BaseCandidate, chooseBaseModel } from './base-model-choice.ts';

/** The sub-folder holding an import's original pyreft files. */
export const PYREFT_ORIGINALS_DIR = 'pyreft';

export type AdapterFolderKind = 'studio' | 'pyreft';

/** 'studio' (manifest.json) or 'pyreft' (config.json); anything else is a FormatError. */
export function detectAdapterFolder(dir: string): AdapterFolderKind {
  if (!existsSync(dir)) throw new FormatError('missing-file', `${dir}: no such folder`);
  // A file given for the folder exists: "no such folder" would send the person looking for it.
  if (!statSync(dir).isDirectory())
    throw new FormatError(
      'not-a-folder',
      `${dir} is a file; give the adapter's folder (config.json + intkey_*.bin, or manifest.json)`,
    );
  if (existsSync(join(dir, MANIFEST_FILE))) return 'studio';
  if (existsSync(join(dir, 'config.json'))) return 'pyreft';
  throw new FormatError('not-an-adapter', `${dir}: ${notAnAdapter(dir)}`);
}

const ARCHIVE = /\.(zip|tar|tgz|gz|xz|bz2|zst|7z|rar)$/i;
/** Files torch.save or pickle write: read only as the intkey_*.bin a config.json lists, never otherwise. */
const PICKLE = /\.(bin|pt|pth|pkl|pickle|ckpt)$/i;

/**
 * Why a folder with neither config.json nor manifest.json is no adapter, and what to do, from what it
 * holds: adapter folders inside it, an archive, or pickles without the config.json that names them.
 */
function notAnAdapter(dir: string): string {
  const entries = readdirSync(dir, { withFileTypes: true });
  const some = (found: string[]) => `${found[0]}${found.length > 1 ? ` and ${found.length - 1} more` : ''}`;
  const inner = entries
    .filter(
      (e) => e.isDirectory() && ['config.json', MANIFEST_FILE].some((f) => existsSync(join(dir, e.name, f))),
    )
    .map((e) => `${e.name}/`);
  if (inner.length > 0)
    return inner.length === 1
      ? `holds the adapter folder ${inner[0]}, not an adapter's files; import that folder`
      : `holds adapter folders ${some(inner)}, not an adapter's files; import one of them`;
  const names = entries.map((e) => e.name);
  const archives = names.filter((n) => ARCHIVE.test(n));
  if (archives.length > 0)
    return `holds the archive ${some(archives)}, not an adapter's files; unpack it and import the folder it holds`;
  const pickles = names.filter((n) => PICKLE.test(n));
  if (pickles.length > 0)
    return `holds ${some(pickles)} but no config.json, so nothing says what ${pickles.length === 1 ? 'it holds' : 'they hold'} (and no pickle is read without it); save the adapter with pyreft's reft_model.save(DIR), which writes config.json beside its intkey_*.bin files`;
  return 'neither a pyreft folder (config.json + intkey_*.bin) nor a ReFT Studio adapter (manifest.json)';
}

/**
 * Reads a studio adapter folder (a library folder included), or a pyreft folder that carries a
 * reft_studio.json (its base model and positions); a bare pyreft folder must be imported first.
 */
export function readAnyAdapter(dir: string): StudioAdapter {
  if (detectAdapterFolder(dir) === 'studio') return readStudioAdapter(dir);
  return pyreftToStudio(readPyreftFolder(dir));
}

export interface PrepareImportOptions {
  /** The model the adapter will be used with: shapes are checked, and it names the base model when the folder does not. */
  model?: TargetModel;
  /** Positions for a pyreft folder without reft_studio.json (else inferred, see notes). */
  positions?: string;
  /** Import even though the folder names another base model than `model` (same shape). */
  forceBase?: boolean;
  /**
   * Without `model`, the library's models: a pyreft folder that names no base model takes the one
   * whose shapes fit (base-model-choice.ts).
   */
  candidates?: BaseCandidate[];
  /** Lineage to record (run id, dataset version, metrics). */
  meta?: StudioAdapterMeta;
}

export interface PreparedImport {
  kind: AdapterFolderKind;
  adapter: StudioAdapter;
  /** The original pyreft files (name, bytes), kept for an exact re-export; null for studio folders. */
  originals: Array<[string, Uint8Array]> | null;
  /** Things the user should know (positions assumed, …). */
  notes: string[];
  /** adapterContentHash of `adapter`: the library finds an adapter imported before by it. */
  contentHash: string;
}

/**
 * What makes two imports the same adapter: its manifest (positions, base model, prompt format,
 * lineage; not createdAt, which a folder without reft_studio.json gets when it is read, nor what its
 * import assumed) and every
 * trained value, as a hex SHA-256.
 */
export function adapterContentHash(adapter: StudioAdapter): string {
  // importAssumed is words about the import, not the adapter: one imported before it was kept is found.
  const { createdAt: _readAt, importAssumed: _words, ...manifest } = adapter.manifest;
  const h = createHash('sha256').update(JSON.stringify(manifest));
  for (const iv of adapter.interventions) {
    for (const [name, t] of Object.entries(iv.params)) {
      h.update(`\n${iv.key}/${name} [${t.shape.join(',')}]\n`);
      h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  }
  return h.digest('hex');
}

/** "f1+l1" when every layer has a prefix and a suffix intervention in pyreft's order, else "l1". */
function inferPositions(py: PyreftAdapter): string {
  return pairedPerLayer(py.interventions) ? 'f1+l1' : 'l1';
}

/** Reads and checks `src` (either format) completely; writes nothing. */
export function prepareImport(src: string, opts: PrepareImportOptions = {}): PreparedImport {
  const kind = detectAdapterFolder(src);
  const notes: string[] = [];
  let model = opts.model;
  let adapter: StudioAdapter;
  let originals: Array<[string, Uint8Array]> | null = null;
  if (kind === 'studio') {
    adapter = readStudioAdapter(src);
    if (opts.meta) adapter = { ...adapter, manifest: { ...adapter.manifest, ...definedOnly(opts.meta) } };
  } else {
    // With a model, config.json is checked against it before any .bin is read. A malformed
    // reft_studio.json is said and set aside: pyreft's own files are the adapter.
    const py = readPyreftFolder(src, {
      model: opts.model,
      onBadSidecar: (e, part) =>
        notes.push(
          `${e.message}; imported without ${part === 'lineage' ? 'its lineage' : 'it, as a plain pyreft folder'}`,
        ),
    });
    const side = py.sidecar;
    let baseModel = side?.baseModel;
    if (!baseModel) {
      if (!model) {
        const chosen = chooseBaseModel(py.interventions, opts.candidates ?? [], src);
        model = chosen.model;
        notes.push(chosen.note);
      }
      baseModel = { arch: model.arch, fingerprint: model.fingerprint };
    }
    const positions = opts.positions ?? side?.positions ?? inferPositions(py);
    const pos = parsePositions(positions);
    const shareWeights =
      opts.meta?.shareWeights ?? side?.shareWeights ?? inferredShareWeights(pos.text, py.interventions);
    const assumed = side ? null : assumptions(pos.text, shareWeights, opts);
    if (assumed) notes.push(`${src} ${assumed.note}`);
    const importAssumed = assumed ? `its pyreft folder ${assumed.stored}` : undefined;
    if (isUntied(pos, shareWeights) && py.interventions.length % 2 !== 0) {
      throw new ConfigError(
        'bad-positions',
        `positions "${pos.text}" with untied weights need a prefix and a suffix intervention per layer, but ${src} has ${plural(py.interventions.length, 'intervention')}`,
      );
    }
    adapter = pyreftToStudio(py, {
      ...opts.meta,
      positions: pos.text,
      shareWeights,
      baseModel,
      importAssumed,
    });
    originals = [['config.json', readFileSync(join(src, 'config.json'))]];
    for (const iv of py.interventions) {
      const f = `intkey_${iv.key}.bin`;
      originals.push([f, readFileSync(join(src, f))]);
    }
    if (side) originals.push([SIDECAR_FILE, readFileSync(join(src, SIDECAR_FILE))]);
  }
  if (model) checkAdapterForModel(adapter, model, { forceBase: opts.forceBase });
  return { kind, adapter, originals, notes, contentHash: adapterContentHash(adapter) };
}

/**
 * What a pyreft folder without reft_studio.json leaves unsaid, and what the import takes instead: the
 * prompt format (prompts as given, no chat template), the positions and weight sharing where not
 * given, dropout and activation. One line, as the import's note (`note`, with the --positions hint)
 * and as kept in the manifest (`stored`).
 */
function assumptions(
  positions: string,
  shareWeights: boolean,
  opts: PrepareImportOptions,
): { note: string; stored: string } {
  const missing: Array<[string, string]> = [['prompt format', 'prompts without a chat template']];
  if (opts.positions === undefined) missing.push(['positions', `positions "${positions}"`]);
  // Sharing only matters with a prefix and a suffix position.
  if (opts.meta?.shareWeights === undefined && /^f\d+\+l\d+$/.test(positions))
    missing.push(['weight sharing', shareWeights ? 'tied weights' : 'untied weights']);
  missing.push(['dropout', 'dropout 0'], ['activation', 'no activation']);
  const list = (xs: string[], and: string) =>
    xs.length === 1 ? xs[0] : `${xs.slice(0, -1).join(', ')} ${and} ${xs[xs.length - 1]}`;
  const unsaid = `does not record its ${list(
    missing.map(([what]) => what),
    'or',
  )} (no ${SIDECAR_FILE})`;
  const taken = missing.map(([, took]) => took);
  const hinted = taken.map((t, i) =>
    missing[i][0] === 'positions' ? `${t} (give --positions to change)` : t,
  );
  return {
    note: `${unsaid}; assuming ${list(hinted, 'and')}`,
    stored: `${unsaid}; assumed ${list(taken, 'and')}`,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Writes a prepared import as a new folder `dest` (which must not exist): everything goes into a
 * temp sibling that is renamed into place at the end, or removed on failure.
 */
export function writeLibraryFolder(dest: string, prepared: PreparedImport): void {
  const target = resolve(dest);
  if (existsSync(target)) throw new ConfigError('dest-exists', `${target} already exists`);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.import`);
  try {
    writeFolderAtomic(tmp, studioAdapterFiles(prepared.adapter));
    if (prepared.originals) writeFolderAtomic(join(tmp, PYREFT_ORIGINALS_DIR), prepared.originals);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // A full disk names the adapter's folder, not the temp one it was being written as.
    throw e instanceof ReftError && e.code === 'disk-full' ? writeFailure(e.cause, target) : e;
  }
}

/**
 * Removes the temp folders (`.<name>.<hex>.import`) that killed imports left in `dir`, once older than
 * `minAgeMs`: a younger one may be another process's import in progress (the CLI beside `serve`).
 * writeFolderAtomic's `.tmp`/`.old` folders are sweepTempFiles's: an `.old` one may be the only copy
 * of an adapter folder, to be put back, never deleted here.
 */
export function sweepImportTemps(dir: string, minAgeMs = 10 * 60_000): void {
  if (!existsSync(dir)) return;
  const now = Date.now();
  for (const f of readdirSync(dir)) {
    if (!/^\..+\.[0-9a-f]{12}\.import$/.test(f)) continue;
    try {
      if (oldEnough(statSync(join(dir, f)).mtimeMs, minAgeMs, now))
        rmSync(join(dir, f), { recursive: true, force: true });
    } catch {} // gone meanwhile (another sweep)
  }
}

/** Bytes of every file under `path` (a file's own size for a file; 0 if missing). */
export function sizeOnDisk(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + sizeOnDisk(join(path, f)), 0);
}

/**
 * Refuses to write into `out` when it is a non-empty folder (unless `force`), a file, or the source
 * itself / a folder containing it (replacing it would destroy the source).
 */
export function checkOutFolder(out: string, src: string | null, force = false): void {
  const o = resolve(out);
  if (src) {
    const rel = relative(o, resolve(src));
    if (rel === '' || !rel.startsWith('..')) {
      throw new ConfigError(
        'bad-out',
        `--out ${out} is the adapter folder or contains it; choose another folder`,
      );
    }
  }
  if (!existsSync(o)) return;
  if (!statSync(o).isDirectory()) throw new ConfigError('out-exists', `--out ${out} is a file, not a folder`);
  if (readdirSync(o).length > 0 && !force) {
    throw new ConfigError(
      'out-not-empty',
      `--out ${out} exists and is not empty; pass --force to replace it`,
    );
  }
}

export interface ExportResult {
  out: string;
  /** True when the pyreft files are the original import's bytes. */
  exact: boolean;
  files: string[];
  adapter: StudioAdapter | null;
}

/** Same tensors, bit for bit. */
function sameParams(a: StudioAdapter, py: PyreftAdapter): boolean {
  if (a.interventions.length !== py.interventions.length) return false;
  return a.interventions.every((iv, i) => {
    const o = py.interventions[i];
    if (o.type !== iv.type || o.layer !== iv.layer || o.rank !== iv.rank) return false;
    const names = Object.keys(iv.params);
    if (names.length !== Object.keys(o.params).length) return false;
    return names.every((n) => {
      const x = iv.params[n].data,
        y = o.params[n]?.data;
      if (!y || x.length !== y.length) return false;
      for (let k = 0; k < x.length; k++) if (!Object.is(x[k], y[k])) return false;
      return true;
    });
  });
}

/**
 * `adapter` with the precision the library records for it, where its manifest records none (one
 * written before manifests kept it takes its run's: library/adapters.ts): an export says what the
 * library says. A manifest's own precision is kept; none known (null) adds none.
 */
export function withRecordedPrecision(adapter: StudioAdapter, precision?: Precision | null): StudioAdapter {
  if (adapter.manifest.precision || !precision) return adapter;
  return { ...adapter, manifest: { ...adapter.manifest, precision } };
}

/**
 * Exports an adapter folder (studio, library or pyreft) as a pyreft folder at `out`, atomically.
 * `precision`: the library's record of it, for a manifest that has none (withRecordedPrecision).
 * A library folder with its original pyreft files re-exports them byte for byte (plus a
 * reft_studio.json written from the manifest), as long as they still hold the adapter's tensors.
 * `asExport` marks `out` as an export (formats/export-marker.ts); `files` never lists the marker.
 */
export function exportPyreft(
  src: string,
  out: string,
  opts: {
    force?: boolean;
    asExport?: boolean;
    precision?: Precision | null;
    /** The library's lineage of it, with names (else the manifest's own: manifestLineage). */
    lineage?: SidecarLineage;
  } = {},
): ExportResult {
  checkOutFolder(out, src, opts.force);
  const kind = detectAdapterFolder(src);
  const marking = { asExport: opts.asExport };
  if (kind === 'pyreft') {
    const files = writePyreftFolder(out, readPyreftFolder(src), marking);
    return { out: resolve(out), exact: false, files: files.sort(), adapter: null };
  }
  const adapter = withRecordedPrecision(readStudioAdapter(src), opts.precision);
  const py = studioToPyreft(adapter, opts.lineage);
  const origDir = join(src, PYREFT_ORIGINALS_DIR);
  if (existsSync(join(origDir, 'config.json'))) {
    const orig = readPyreftFolder(origDir);
    if (sameParams(adapter, orig)) {
      const files: Array<[string, FileData]> = [['config.json', copyOf(join(origDir, 'config.json'))]];
      for (const iv of orig.interventions) {
        const f = `intkey_${iv.key}.bin`;
        files.push([f, copyOf(join(origDir, f))]);
      }
      files.push([SIDECAR_FILE, `${JSON.stringify(py.sidecar, null, 2)}\n`]);
      writeExportableFolder(out, files, opts.asExport ? 'pyreft' : undefined);
      return { out: resolve(out), exact: true, files: files.map(([n]) => n).sort(), adapter };
    }
  }
  const files = writePyreftFolder(out, py, marking);
  return { out: resolve(out), exact: false, files: files.sort(), adapter };
}
