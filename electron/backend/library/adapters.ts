// Trained adapters in the library: where the folder is, which base model it belongs to (by
// fingerprint), its manifest, the run and dataset version that made it, and free-form tags.
// Removing an adapter deletes its folder only when that folder is inside the data folder.
// Import copies a pyreft or studio folder into <data>/adapters/<name>-<hex>/ (studio format, plus the
// original pyreft files in pyreft/ for exact re-export) and registers it; any failure leaves neither
// a row nor a folder. A folder imported before (the same content hash) is not added twice: the
// import returns the adapter already there, as `models add` of a folder added before returns its
// model, unless a name of its own is given for the new one (a second copy, asked for). The folder logic lives in native-runtime/adapters/ (shared with the CLI).

import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkAdapterForModel, type TargetModel } from '../../../native-runtime/adapters/apply.ts';
import {
  type ExportResult,
  exportPyreft,
  type PreparedImport,
  type PrepareImportOptions,
  PYREFT_ORIGINALS_DIR,
  prepareImport,
  readAnyAdapter,
  sizeOnDisk,
  sweepImportTemps,
  writeLibraryFolder,
} from '../../../native-runtime/adapters/folders.ts';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { adapterNeedsChatTemplateError } from '../../../native-runtime/evaluation/prompt-reader.ts';
import type { SidecarLineage } from '../../../native-runtime/formats/pyreft.ts';
import type { StudioManifest } from '../../../native-runtime/formats/studio-adapter.ts';
import { openModelFolder } from '../../../native-runtime/models/model-folder.ts';
import { isPrecision, type Precision } from '../../../native-runtime/runtime/precision-used.ts';
import { writeTransaction } from '../db/database.ts';
import { getDatasetVersion } from './datasets.ts';
import { checkNoEvaluationJobUses } from './evaluation-jobs.ts';
import { checkExportDestination } from './export-destination.ts';
import { insideDataDir, removingFolders } from './folder-removal.ts';
import { type Library, parseJsonColumn } from './library.ts';
import { getModel, modelShapes } from './models.ts';
import { checkName } from './names.ts';
import { getRunRecord } from './runs.ts';
import { matchesTag, tagsToAdd, tagsToRemove } from './tags.ts';
import { workUsing } from './work-in-use.ts';

export interface AdapterRecord {
  id: number;
  name: string;
  path: string;
  type: string;
  baseModelFingerprint: string;
  manifest: Record<string, unknown>;
  runId: number | null;
  datasetVersionId: number | null;
  sizeBytes: number | null;
  tags: string[];
  createdAt: number;
  /**
   * The precision the base model computed in while it was trained (fp32, fp16, bf16), as its run
   * recorded it; null where not known: a pyreft folder records none, nor do runs recorded before
   * runs kept it (migration adapter_precision). Never a guess.
   */
  precision: Precision | null;
  /**
   * The library model this adapter is shown against: the model its run trained on when that model is
   * still there with the same weights, else the first library model with those weights (a
   * non-demo one first). Null when no library model has them. Runs and Adapters both name it so.
   */
  baseModelId: number | null;
  baseModelName: string | null;
}

interface AdapterRow {
  id: number;
  name: string;
  path: string;
  type: string;
  base_model_fingerprint: string;
  manifest_json: string;
  run_id: number | null;
  dataset_version_id: number | null;
  size_bytes: number | null;
  created_at: number;
  precision: string | null;
  tags: string | null;
  base_model_id: number | null;
  base_model_name: string | null;
}

const BASE_MODEL_ID = `COALESCE(
    (SELECT m.id FROM runs r JOIN models m ON m.id = r.model_id WHERE r.id = a.run_id AND m.fingerprint = a.base_model_fingerprint),
    (SELECT m.id FROM models m WHERE m.fingerprint = a.base_model_fingerprint ORDER BY m.is_demo, m.id LIMIT 1))`;

const SELECT_ADAPTER = `SELECT a.*, (SELECT json_group_array(tag) FROM (SELECT tag FROM adapter_tags WHERE adapter_id = a.id ORDER BY tag)) AS tags,
    bm.id AS base_model_id, bm.name AS base_model_name
  FROM adapters a LEFT JOIN models bm ON bm.id = ${BASE_MODEL_ID}`;

function toRecord(r: AdapterRow): AdapterRecord {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    type: r.type,
    baseModelFingerprint: r.base_model_fingerprint,
    manifest: parseJsonColumn(r.manifest_json, {}),
    runId: r.run_id,
    datasetVersionId: r.dataset_version_id,
    sizeBytes: r.size_bytes,
    tags: parseJsonColumn<string[]>(r.tags, []),
    createdAt: r.created_at,
    precision: isPrecision(r.precision) ? r.precision : null,
    baseModelId: r.base_model_id ?? null,
    baseModelName: r.base_model_name ?? null,
  };
}

export interface RegisterAdapterInput {
  name: string;
  path: string;
  type: string;
  baseModelFingerprint: string;
  manifest?: Record<string, unknown>;
  runId?: number | null;
  datasetVersionId?: number | null;
  sizeBytes?: number | null;
  tags?: string[];
  /** An import's adapterContentHash (folders.ts), by which a second import of it is found. */
  contentHash?: string | null;
  /**
   * What the base computed in while it was trained, where its manifest does not say (a run's checkpoint
   * written before manifests kept it: the run's recorded precision). The manifest's wins.
   */
  precision?: string | null;
}

/** The precision an adapter's manifest records (studio-adapter.ts), or null where it records none. */
export function manifestPrecision(manifest: Record<string, unknown> | undefined): Precision | null {
  return isPrecision(manifest?.precision) ? manifest.precision : null;
}

/** Records an adapter folder written by training or import. */
export function registerAdapter(lib: Library, input: RegisterAdapterInput): AdapterRecord {
  const name = checkName(input.name, 'adapter');
  const id = writeTransaction(lib.db, () => {
    const row = lib.db
      .prepare(
        `INSERT INTO adapters (name, path, type, base_model_fingerprint, manifest_json, run_id, dataset_version_id, size_bytes, created_at, content_hash, precision)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      )
      .get(
        name,
        resolve(input.path),
        input.type,
        input.baseModelFingerprint,
        JSON.stringify(input.manifest ?? {}),
        input.runId ?? null,
        input.datasetVersionId ?? null,
        input.sizeBytes ?? null,
        Date.now(),
        input.contentHash ?? null,
        manifestPrecision(input.manifest) ?? (isPrecision(input.precision) ? input.precision : null),
      ) as { id: number };
    const tag = lib.db.prepare('INSERT OR IGNORE INTO adapter_tags (adapter_id, tag) VALUES (?, ?)');
    for (const t of tagsToAdd(input.tags ?? [])) tag.run(row.id, t);
    return row.id;
  });
  return getAdapter(lib, id);
}

/** The adapter a run registered from folder `path`, if any. */
export function findRunAdapter(lib: Library, runId: number, path: string): number | null {
  const row = lib.db
    .prepare('SELECT id FROM adapters WHERE run_id = ? AND path = ?')
    .get(runId, resolve(path)) as { id: number } | undefined;
  return row?.id ?? null;
}

/**
 * registerAdapter once per run and folder, decided under the write lock (two windows keeping the
 * same checkpoint, a completion racing a keep): the adapter's id, and whether this call added it
 * (so only the call that added it logs and announces it).
 */
export function registerRunAdapterOnce(
  lib: Library,
  input: RegisterAdapterInput & { runId: number },
): { id: number; added: boolean } {
  return writeTransaction(lib.db, () => {
    const existing = findRunAdapter(lib, input.runId, input.path);
    return existing !== null
      ? { id: existing, added: false }
      : { id: registerAdapter(lib, input).id, added: true };
  });
}

export interface AdapterFilter {
  tag?: string;
  baseModelFingerprint?: string;
  /** Intervention type, e.g. 'loreft'. */
  type?: string;
  /**
   * Free text, case-insensitive: matches the name, a tag, the type, the base model's library name,
   * or a prefix of its fingerprint. Every word must match something.
   */
  query?: string;
}

export function listAdapters(lib: Library, filter: AdapterFilter = {}): AdapterRecord[] {
  const rows = lib.db.prepare(`${SELECT_ADAPTER} ORDER BY a.id DESC`).all() as AdapterRow[];
  const words = (filter.query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const modelNames = words.length ? modelNamesByFingerprint(lib) : new Map<string, string[]>();
  return rows
    .map(toRecord)
    .filter((a) => (filter.tag ? matchesTag(a.tags, filter.tag) : true))
    .filter((a) =>
      filter.baseModelFingerprint ? a.baseModelFingerprint === filter.baseModelFingerprint : true,
    )
    .filter((a) => (filter.type ? a.type.split('+').includes(filter.type) : true))
    .filter((a) => {
      if (!words.length) return true;
      const hay = [a.name, a.type, ...a.tags, ...(modelNames.get(a.baseModelFingerprint) ?? [])].map((x) =>
        x.toLowerCase(),
      );
      const fp = a.baseModelFingerprint.toLowerCase();
      return words.every((w) => hay.some((h) => h.includes(w)) || (w.length >= 4 && fp.startsWith(w)));
    });
}

/** listAdapters with a free-text query (name, tag, type, base model name or fingerprint prefix). */
export function searchAdapters(
  lib: Library,
  query: string,
  filter: Omit<AdapterFilter, 'query'> = {},
): AdapterRecord[] {
  return listAdapters(lib, { ...filter, query });
}

function modelNamesByFingerprint(lib: Library): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of lib.db.prepare('SELECT name, fingerprint FROM models').all() as {
    name: string;
    fingerprint: string;
  }[]) {
    m.set(r.fingerprint, [...(m.get(r.fingerprint) ?? []), r.name]);
  }
  return m;
}

export function getAdapter(lib: Library, id: number): AdapterRecord {
  const row = lib.db.prepare(`${SELECT_ADAPTER} WHERE a.id = ?`).get(id) as AdapterRow | undefined;
  if (!row) throw new ValidationError('not-found', `no adapter with id ${id}`);
  return toRecord(row);
}

/**
 * The engine's refusal of an adapter trained through the chat template, on a model without one,
 * names the adapter by its folder: said again with the library's id and name (of the one among
 * `used` that asks for the template), and with what the caller can do `instead`. Any other error is
 * returned as it is.
 */
export function namingChatTrainedAdapterIn(
  e: unknown,
  used: readonly AdapterRecord[],
  instead: string,
): unknown {
  if ((e as { code?: string }).code !== 'adapter-needs-chat-template' || used.length === 0) return e;
  const a = used.find((x) => x.manifest.promptTemplate === 'chat') ?? used[0];
  return adapterNeedsChatTemplateError(`adapter ${a.id} ("${a.name}")`, instead);
}

/** Adds and/or removes tags (tags.ts: a comma separates them); returns the adapter with its new tags. */
export function tagAdapter(
  lib: Library,
  id: number,
  change: { add?: string[]; remove?: string[] },
): AdapterRecord {
  const added = tagsToAdd(change.add ?? []);
  writeTransaction(lib.db, () => {
    const removed = tagsToRemove(change.remove ?? [], getAdapter(lib, id).tags);
    const add = lib.db.prepare('INSERT OR IGNORE INTO adapter_tags (adapter_id, tag) VALUES (?, ?)');
    const del = lib.db.prepare('DELETE FROM adapter_tags WHERE adapter_id = ? AND tag = ?');
    for (const t of added) add.run(id, t);
    for (const t of removed) del.run(id, t);
  });
  return getAdapter(lib, id);
}

export function renameAdapter(lib: Library, id: number, name: string): AdapterRecord {
  const n = checkName(name, 'adapter');
  if (lib.db.prepare('UPDATE adapters SET name = ? WHERE id = ?').run(n, id).changes === 0) {
    throw new ValidationError('not-found', `no adapter with id ${id}`);
  }
  return getAdapter(lib, id);
}

/**
 * Refuses ('in-use') to remove an adapter an evaluation queued or running uses (the studio's jobs, or
 * the CLI's evaluation recorded 'running', in any process on the same library): its folder would go
 * under the session reading it, and the evaluation's row with the adapter's.
 */
function checkAdapterIdle(lib: Library, a: AdapterRecord): void {
  checkNoEvaluationJobUses(lib, 'adapter', a);
  const ev = workUsing(lib, { adapter: a.id });
  if (ev)
    throw new ValidationError(
      'in-use',
      `adapter ${a.id} (${a.name}) is used by evaluation ${ev.id}, which is running; cancel it or let it finish first`,
    );
}

/**
 * Forgets an adapter; its folder is deleted only if the library owns it (inside the data folder).
 * Refused while an evaluation of it runs (checkAdapterIdle).
 */
export function removeAdapter(lib: Library, id: number): { id: number; deletedFiles: boolean } {
  const { result: owned } = removingFolders(lib, () => {
    const a = getAdapter(lib, id);
    checkAdapterIdle(lib, a);
    lib.db.prepare('DELETE FROM adapters WHERE id = ?').run(id);
    const owned = insideDataDir(lib, a.path);
    return { result: owned, folders: owned ? [a.path] : [] };
  });
  return { id, deletedFiles: owned };
}

// ---------------------------------------------------------------------------------------------
// Import, export, lineage, applying

/** A model given as a library id or a folder, opened for its shape and fingerprint. */
export interface ResolvedModel extends TargetModel {
  modelId: number | null;
  path: string;
  /** How a cache repository's snapshot was chosen, for the caller to say (resolveModelFolder). */
  note?: string;
}

/** `ref` is a library model id ("3") or a model folder. */
export function resolveModelRef(lib: Library, ref: string | number): ResolvedModel {
  let path = String(ref);
  let modelId: number | null = null;
  let name: string | undefined;
  if (typeof ref === 'number' || (/^\d+$/.test(ref) && !existsSync(ref))) {
    const m = getModel(lib, Number(ref));
    path = m.path;
    modelId = m.id;
    name = m.name;
  }
  const { dir, spec, note } = openModelFolder(path);
  if (!name) {
    const row = lib.db
      .prepare('SELECT id, name FROM models WHERE path = ? OR fingerprint = ? ORDER BY path = ? DESC LIMIT 1')
      .get(dir, spec.fingerprint, dir) as { id: number; name: string } | undefined;
    name = row?.name ?? basename(dir);
    modelId = row?.id ?? null;
  }
  return {
    arch: spec.arch,
    fingerprint: spec.fingerprint,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    name,
    modelId,
    path: dir,
    ...(note ? { note } : {}),
  };
}

/** `ref` is a library adapter id ("12") or an adapter folder (studio or pyreft). */
export function resolveAdapterRef(
  lib: Library,
  ref: string | number,
): { path: string; record: AdapterRecord | null } {
  if (typeof ref === 'number' || (/^\d+$/.test(ref) && !existsSync(ref))) {
    const a = getAdapter(lib, Number(ref));
    return { path: a.path, record: a };
  }
  const path = resolve(ref);
  const row = lib.db.prepare('SELECT id FROM adapters WHERE path = ?').get(path) as
    | { id: number }
    | undefined;
  return { path, record: row ? getAdapter(lib, row.id) : null };
}

export interface ImportAdapterInput {
  /** A pyreft folder (config.json + intkey_*.bin [+ reft_studio.json]) or a studio adapter folder. */
  path: string;
  /**
   * The name in the library, as the user gave it: a folder imported before is imported again as a
   * second adapter only under a name that adapter does not have.
   */
  name?: string;
  /** The name when none is given (an upload's folder name), else the folder's own. */
  defaultName?: string;
  /** The base model as a library id or a folder: names it when the folder does not, and checks shapes. */
  model?: string | number;
  positions?: string;
  forceBase?: boolean;
  tags?: string[];
}

export interface ImportAdapterResult {
  adapter: AdapterRecord;
  kind: PreparedImport['kind'];
  notes: string[];
  /** False when the library had the adapter already (imported before): `adapter` is that one. */
  created: boolean;
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'adapter'
  );
}

/** The type column: the interventions' types, distinct, joined by '+'. */
function typeOf(m: StudioManifest): string {
  return [...new Set(m.interventions.map((iv) => iv.type))].join('+');
}

/**
 * Imports an adapter folder into the library (see the header). Never executes code; every check
 * (pickle allow-list, truncated or malformed files, ranks, shapes against `model`, base model)
 * happens before anything is written, and a failure afterwards removes what was written.
 */
export function importAdapter(lib: Library, input: ImportAdapterInput): ImportAdapterResult {
  const { src, opts } = importRequest(lib, input);
  return registerImport(lib, input, src, prepareImport(src, opts));
}

/**
 * importAdapter with the reading and checking done by `prepare` (the backend passes the engine's
 * 'prepareImport' worker operation), so the caller's event loop stays free while a large or
 * hostile folder is read; only the folder write and the database rows happen here.
 */
export async function importAdapterWith(
  lib: Library,
  input: ImportAdapterInput,
  prepare: (src: string, opts: PrepareImportOptions) => Promise<PreparedImport>,
): Promise<ImportAdapterResult> {
  const { src, opts } = importRequest(lib, input);
  return registerImport(lib, input, src, await prepare(src, opts));
}

function importRequest(lib: Library, input: ImportAdapterInput): { src: string; opts: PrepareImportOptions } {
  const src = resolve(input.path);
  const model = input.model !== undefined ? resolveModelRef(lib, input.model) : undefined;
  // Without one, a pyreft folder that names no base model takes the one library model that fits it.
  const candidates = model ? undefined : modelShapes(lib);
  return { src, opts: { model, candidates, positions: input.positions, forceBase: input.forceBase } };
}

function registerImport(
  lib: Library,
  input: ImportAdapterInput,
  src: string,
  prepared: PreparedImport,
): ImportAdapterResult {
  const m = prepared.adapter.manifest;
  const given = input.name?.trim() || undefined;
  const name = checkName(given ?? input.defaultName ?? basename(src), 'adapter');
  const before = importedBefore(lib, prepared.contentHash, given);
  // Its notes (positions assumed, …) were said when it was imported; nothing is imported now. Tags
  // asked for are still given to it: they say what the user wants it found by.
  if (before) {
    const adapter = input.tags?.length ? tagAdapter(lib, before.id, { add: input.tags }) : before;
    return { adapter, kind: prepared.kind, notes: [], created: false };
  }
  const root = join(lib.dataDir, 'adapters');
  sweepImportTemps(root);
  const dest = join(root, `${slug(name)}-${randomBytes(4).toString('hex')}`);
  writeLibraryFolder(dest, prepared);
  try {
    const runId =
      m.runId !== null && /^\d+$/.test(m.runId) && isItsRun(lib, Number(m.runId), m) ? Number(m.runId) : null;
    const adapter = registerAdapter(lib, {
      name,
      path: dest,
      type: typeOf(m),
      baseModelFingerprint: m.baseModel.fingerprint,
      manifest: m as unknown as Record<string, unknown>,
      runId,
      datasetVersionId:
        runId !== null
          ? (
              lib.db.prepare('SELECT dataset_version_id AS v FROM runs WHERE id = ?').get(runId) as {
                v: number | null;
              }
            ).v
          : null,
      sizeBytes: sizeOnDisk(dest),
      tags: input.tags,
      contentHash: prepared.contentHash,
    });
    return { adapter, kind: prepared.kind, notes: prepared.notes, created: true };
  } catch (e) {
    rmSync(dest, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The adapter an earlier import of the same content recorded, while its folder is still there; with
 * a `name` given, only one of that name (another name asks for a second copy).
 */
function importedBefore(lib: Library, contentHash: string, name?: string): AdapterRecord | null {
  const rows = lib.db
    .prepare('SELECT id, name, path FROM adapters WHERE content_hash = ? ORDER BY id')
    .all(contentHash) as { id: number; name: string; path: string }[];
  const kept = rows.find((r) => (name === undefined || r.name === name) && existsSync(r.path));
  return kept ? getAdapter(lib, kept.id) : null;
}

/**
 * Whether this library's run `id` is the one that trained the adapter: it exists, trained its base
 * model where the run recorded one, and, where an export's lineage names the run, has that name. Run
 * ids are per library: an export imported into another one must not claim a stranger's run 3.
 */
function isItsRun(lib: Library, id: number, m: StudioManifest): boolean {
  const run = lib.db.prepare('SELECT name, model_fingerprint AS fp FROM runs WHERE id = ?').get(id) as
    | { name: string | null; fp: string | null }
    | undefined;
  if (!run) return false;
  if (run.fp !== null && run.fp !== m.baseModel.fingerprint) return false;
  return !m.lineage?.run || (m.lineage.run.name ?? null) === (run.name ?? null);
}

export interface ExportAdapterInput {
  /** A library adapter id or an adapter folder. */
  adapter: string | number;
  out: string;
  format?: 'pyreft';
  force?: boolean;
}

/**
 * Writes a pyreft folder for a library adapter or a folder (atomic; see folders.ts exportPyreft),
 * after the destination checks of export-destination.ts, marked as an export.
 */
export function exportAdapter(lib: Library, input: ExportAdapterInput): ExportResult {
  if (input.format !== undefined && input.format !== 'pyreft')
    throw new ValidationError('bad-format', `unknown export format "${String(input.format)}" (use pyreft)`);
  const { path, record } = resolveAdapterRef(lib, input.adapter);
  const out = checkExportDestination(input.out, { dataDir: lib.dataDir, force: input.force, label: '--out' });
  return exportPyreft(path, out, {
    force: input.force,
    asExport: true,
    precision: record?.precision,
    lineage: record ? exportLineage(lib, record.id) : undefined,
  });
}

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * What a pyreft export's reft_studio.json says of where the adapter came from (SidecarLineage): the
 * library's names for its base model, dataset and run, the run's settings, its steps and final loss;
 * where this library does not have them, what the adapter's own import recorded.
 */
export function exportLineage(lib: Library, id: number): SidecarLineage {
  const l = adapterLineage(lib, id);
  const from = l.exported;
  let dataset = from?.dataset ?? (l.datasetVersion ? { name: null, hash: l.datasetVersion } : null);
  if (l.dataset) {
    let hash = l.datasetVersion;
    try {
      hash = getDatasetVersion(lib, l.dataset.versionId).contentHash;
    } catch {} // removed meanwhile: the manifest's prefix
    dataset = { name: l.dataset.name, hash };
  }
  let run = from?.run ?? (l.runRef ? { id: l.runRef, name: null, config: null } : null);
  if (l.run) {
    let config: Record<string, unknown> | null = null;
    try {
      config = getRunRecord(lib, l.run.id).config;
    } catch {} // removed meanwhile
    run = { id: String(l.run.id), name: l.run.name, config };
  }
  const steps = finite(l.metrics.steps);
  return {
    baseModel: {
      name: l.baseModel.name ?? from?.baseModel.name ?? null,
      fingerprint: l.baseModel.fingerprint,
    },
    dataset,
    run,
    steps:
      (steps !== null && Number.isInteger(steps) ? steps : null) ?? l.run?.lastStep ?? from?.steps ?? null,
    finalLoss: finite(l.metrics.finalLoss) ?? l.run?.lastLoss ?? from?.finalLoss ?? null,
  };
}

export interface AdapterLineage {
  adapter: AdapterRecord;
  baseModel: {
    arch: string | null;
    fingerprint: string;
    name: string | null;
    modelId: number | null;
    path: string | null;
  };
  /** The library run that trained it (when it is still there), else null; runRef is the manifest's own id. */
  run: {
    id: number;
    name: string | null;
    status: string;
    lastStep: number | null;
    lastLoss: number | null;
  } | null;
  runRef: string | null;
  dataset: { datasetId: number; name: string; version: number; versionId: number; rowCount: number } | null;
  /** The manifest's dataset version (a content hash prefix for studio runs). */
  datasetVersion: string | null;
  metrics: Record<string, number>;
  layers: number[];
  positions: string | null;
  rank: number | null;
  interventions: number;
  sizeOnDisk: number;
  filesPresent: boolean;
  /** Whether the original pyreft files are kept (exact re-export). */
  pyreftOriginals: boolean;
  /** What its pyreft import could not learn and assumed (StudioManifest.importAssumed), else null. */
  importAssumed: string | null;
  /** The lineage its import's reft_studio.json carried, with the exporting library's names, else null. */
  exported: SidecarLineage | null;
}

/** Where an adapter comes from: base model (name and fingerprint), run, dataset version, metrics. */
export function adapterLineage(lib: Library, id: number): AdapterLineage {
  const a = getAdapter(lib, id);
  const m = a.manifest as Partial<StudioManifest>;
  // The same model the adapter record names (see AdapterRecord.baseModelId).
  const model =
    a.baseModelId === null
      ? undefined
      : (lib.db.prepare('SELECT id, name, path, arch FROM models WHERE id = ?').get(a.baseModelId) as
          | { id: number; name: string; path: string; arch: string }
          | undefined);
  let run: AdapterLineage['run'] = null;
  if (a.runId !== null) {
    try {
      const r = getRunRecord(lib, a.runId);
      run = { id: r.id, name: r.name, status: r.status, lastStep: r.lastStep, lastLoss: r.lastLoss };
    } catch {
      run = null;
    }
  }
  const versionId = a.datasetVersionId ?? null;
  const dataset =
    versionId !== null
      ? ((lib.db
          .prepare(
            `SELECT d.id AS datasetId, d.name AS name, v.version AS version, v.id AS versionId, v.row_count AS rowCount
           FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE v.id = ?`,
          )
          .get(versionId) as AdapterLineage['dataset'] | undefined) ?? null)
      : null;
  return {
    adapter: a,
    baseModel: {
      arch: model?.arch ?? m.baseModel?.arch ?? null,
      fingerprint: a.baseModelFingerprint,
      name: model?.name ?? null,
      modelId: model?.id ?? null,
      path: model?.path ?? null,
    },
    run,
    runRef: m.runId ?? null,
    dataset,
    datasetVersion: m.datasetVersion ?? null,
    metrics: m.metrics ?? {},
    layers: m.layers ?? [],
    positions: m.positions ?? null,
    rank: m.rank ?? null,
    interventions: m.interventions?.length ?? 0,
    sizeOnDisk: sizeOnDisk(a.path),
    filesPresent: existsSync(a.path),
    pyreftOriginals: existsSync(join(a.path, PYREFT_ORIGINALS_DIR, 'config.json')),
    importAssumed: typeof m.importAssumed === 'string' ? m.importAssumed : null,
    exported: m.lineage ?? null,
  };
}

/**
 * Whether `adapter` may be applied to `model`: throws ConfigError 'base-model-mismatch' (naming both)
 * unless it was trained for it or `forceBase` is given for a same-shape model.
 */
export function checkAdapterApplies(
  lib: Library,
  input: { adapter: string | number; model: string | number; forceBase?: boolean },
): { adapter: string; model: string; forced: boolean } {
  const { path, record } = resolveAdapterRef(lib, input.adapter);
  const adapter = readAnyAdapter(path);
  const model = resolveModelRef(lib, input.model);
  const baseName =
    record?.baseModelName ??
    (
      lib.db
        .prepare('SELECT name FROM models WHERE fingerprint = ? ORDER BY is_demo, id LIMIT 1')
        .get(adapter.manifest.baseModel.fingerprint) as { name: string } | undefined
    )?.name;
  checkAdapterForModel(adapter, model, {
    forceBase: input.forceBase,
    adapterName: record?.name ?? basename(path),
    baseModelName: baseName,
  });
  return {
    adapter: path,
    model: model.path,
    forced: adapter.manifest.baseModel.fingerprint !== model.fingerprint,
  };
}

/**
 * Refuses to bundle run `runId`'s `data` when it was the library's copy of a dataset removed since
 * (frozen-file-reclaim.ts deletes it once no run may train on it again): said so, rather than as a
 * hashed file name the user never chose. `instead`: what the caller can do.
 */
export function checkRunDataKept(lib: Library, runId: number, data: string | null, instead: string): void {
  if (data !== null && insideDataDir(lib, data) && !existsSync(data))
    throw new ValidationError(
      'missing-data',
      `the dataset run ${runId} trained on was removed from the library, so there are no rows to bundle; ${instead}`,
    );
}

/**
 * The training configuration and data file of a library run, for the scale-out bundle, and whether
 * its held-out dataset was removed from the library since (its copy reclaimed).
 */
export function runTrainingSource(
  lib: Library,
  runId: number,
): { config: Record<string, unknown> & { model: string }; data: string | null; heldOutRemoved: boolean } {
  const r = getRunRecord(lib, runId);
  const cfg = { ...r.config } as Record<string, unknown>;
  let model = typeof cfg.model === 'string' ? cfg.model : null;
  if (r.modelId !== null) model = getModel(lib, r.modelId).path;
  if (!model) throw new ValidationError('bad-run', `run ${runId} records no model`);
  let data = typeof cfg.data === 'string' ? cfg.data : null;
  if (r.datasetVersionId !== null) {
    try {
      data = getDatasetVersion(lib, r.datasetVersionId).filePath;
    } catch {
      // the version was deleted: fall back to the file the run recorded
    }
  }
  // A held-out dataset removed from the library since leaves the bundle without held-out rows rather
  // than refused (train.py never reads them, and the run trained on every training row): makeBundle
  // records their absence in config.json and says so (MakeBundleInput.heldOutRemoved).
  const heldOutRemoved =
    typeof cfg.evalData === 'string' && insideDataDir(lib, cfg.evalData) && !existsSync(cfg.evalData);
  if (heldOutRemoved) delete cfg.evalData;
  return { config: { ...cfg, model }, data, heldOutRemoved };
}
