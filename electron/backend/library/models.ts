// Base models in the library. A model is registered in place (weights are never copied): its folder
// is read for config.json and the safetensors headers (through the engine's loadModelSpec), which
// give the architecture, sizes, parameter count, dtype and the fingerprint that adapters record to
// refuse being applied to another model.

import { existsSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BaseCandidate } from '../../../native-runtime/adapters/base-model-choice.ts';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { basesRoot } from '../../../native-runtime/quantize/base.ts';
import { baseStoresFolder } from '../../../native-runtime/quantize/store.ts';
import { QUANTIZE_OPTION_CHOICES, type QuantizeOption } from '../../../native-runtime/training/options.ts';
import { deleteSnapshot, readRefs, repoDir, snapshotOfPath } from '../hub/cache.ts';
import { checkNoEvaluationJobUses } from './evaluation-jobs.ts';
import { removingFolders } from './folder-removal.ts';
import { type Library, parseJsonColumn } from './library.ts';
import { inspectModelFolder, type ModelInfo } from './model-inspect.ts';
import { type TokenizerProblem, tokenizerProblem } from './model-tokenizer.ts';
import { checkName } from './names.ts';
import { workUsing } from './work-in-use.ts';

export interface ModelRecord extends ModelInfo {
  id: number;
  name: string;
  source: string;
  isDemo: boolean;
  createdAt: number;
  /** ORG/NAME and commit when the folder is a Hugging Face cache snapshot. */
  hubRepo: string | null;
  hubCommit: string | null;
  /** The studio downloaded the files, so removing the model may delete them. */
  downloaded: boolean;
  /** The form runs and the playground use its weights in, unless a run says otherwise. */
  quantize: QuantizeOption;
  /** Its folder (config.json) is no longer where it was added: moved or deleted on disk. */
  missing: boolean;
  /**
   * Why generation and training cannot use its tokenizer (none, or refused when read), or null;
   * checked again whenever tokenizer.json changes (model-tokenizer.ts). Null for a missing folder.
   */
  tokenizerProblem: TokenizerProblem | null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

interface ModelRow {
  id: number;
  name: string;
  path: string;
  arch: string;
  fingerprint: string;
  config_json: string;
  params: number | null;
  dtype: string | null;
  size_bytes: number | null;
  source: string;
  is_demo: number;
  created_at: number;
  hub_repo: string | null;
  hub_commit: string | null;
  downloaded: number;
  quantize: string | null;
}

/** The part of a model's config.json that describes its text model (a VLM's text_config). */
function textConfig(config: Record<string, unknown>): Record<string, unknown> {
  return typeof config.text_config === 'object' && config.text_config
    ? (config.text_config as Record<string, unknown>)
    : config;
}

/** Hidden size and layer count as a text config records them (GPT-2's names included). */
function shapeOf(text: Record<string, unknown>): { hiddenSize: number | null; numLayers: number | null } {
  return {
    hiddenSize: num(text.hidden_size) ?? num(text.n_embd),
    numLayers: num(text.num_hidden_layers) ?? num(text.n_layer),
  };
}

function toRecord(r: ModelRow): ModelRecord {
  const config = parseJsonColumn(r.config_json, {} as Record<string, unknown>);
  const text = textConfig(config);
  const missing = !existsSync(join(r.path, 'config.json'));
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    arch: r.arch,
    modelType: typeof config.model_type === 'string' ? config.model_type : null,
    ...shapeOf(text),
    vocabSize: num(text.vocab_size),
    params: r.params ?? 0,
    dtype: r.dtype,
    sizeBytes: r.size_bytes ?? 0,
    fingerprint: r.fingerprint,
    config,
    source: r.source,
    isDemo: r.is_demo === 1,
    createdAt: r.created_at,
    hubRepo: r.hub_repo,
    hubCommit: r.hub_commit,
    downloaded: r.downloaded === 1,
    // Never set: automatic (quantized on the CPU only where float32 would not fit in memory).
    quantize: (QUANTIZE_VALUES as readonly string[]).includes(r.quantize ?? '')
      ? (r.quantize as QuantizeOption)
      : 'auto',
    missing,
    tokenizerProblem: missing ? null : tokenizerProblem(r.path),
  };
}

export interface AddModelInput {
  path: string;
  name?: string;
  source?: string;
  isDemo?: boolean;
  /** Set when the studio downloaded the files (see removeModel's deleteFiles). */
  downloaded?: boolean;
}

/** The display name of a folder: ORG/NAME for a cache snapshot (with @ref off main), else its name. */
function defaultName(path: string): string {
  const snap = snapshotOfPath(path);
  if (!snap) return basename(path);
  const ref = refOf(snap.cacheDir, snap.repo, snap.commit);
  return ref === 'main' ? snap.repo : `${snap.repo}@${ref ?? snap.commit.slice(0, 10)}`;
}

function refOf(cacheDir: string, repo: string, commit: string): string | null {
  const names = readRefs(repoDir(cacheDir, repo)).get(commit) ?? [];
  return names.includes('main') ? 'main' : (names[0] ?? null);
}

function realPathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * The entry of a folder: the one stored under its path, else one stored under another path to the
 * same folder (a symlink to it, or the folder reached through a symlinked parent).
 */
function rowOfFolder(lib: Library, path: string): ModelRow | undefined {
  const exact = lib.db.prepare('SELECT * FROM models WHERE path = ?').get(path) as ModelRow | undefined;
  if (exact) return exact;
  const real = realPathOrNull(path);
  if (real === null) return undefined;
  const rows = lib.db.prepare('SELECT * FROM models').all() as ModelRow[];
  return rows.find((r) => realPathOrNull(r.path) === real);
}

/** The columns read from a model's folder, as opposed to the choices made in the studio. */
type FolderColumns = Pick<
  ModelRow,
  'arch' | 'fingerprint' | 'config_json' | 'params' | 'dtype' | 'size_bytes' | 'hub_repo' | 'hub_commit'
>;

/**
 * What the folder of the entry stored under `path` holds now, as columns. The one list of them:
 * addModel inserts these, and adding the folder again rewrites them all, so a column added here
 * cannot be stored at add time and left stale once the files change.
 */
function folderColumns(info: ModelInfo, path: string): FolderColumns {
  const snap = snapshotOfPath(path);
  return {
    arch: info.arch,
    fingerprint: info.fingerprint,
    config_json: JSON.stringify(info.config),
    params: info.params,
    dtype: info.dtype,
    size_bytes: info.sizeBytes,
    hub_repo: snap?.repo ?? null,
    hub_commit: snap?.commit ?? null,
  };
}

/**
 * Registers a model folder. Adding a folder that is already registered returns the existing entry
 * with `created: false` (a download of a model already added marks it as downloaded); if its files
 * changed since (another checkpoint saved over it, a file added), the entry is read again from them
 * and comes back with `updated: true`, so "add it again" is how a changed model becomes usable.
 * `note` says how a cache repository's snapshot was chosen when its refs/main named none.
 */
export function addModel(
  lib: Library,
  input: AddModelInput,
): ModelRecord & { created: boolean; updated?: boolean; note?: string } {
  const info = inspectModelFolder(input.path);
  const note = info.note ? { note: info.note } : {};
  const existing = rowOfFolder(lib, info.path);
  if (existing) {
    if (input.downloaded && !existing.downloaded)
      lib.db.prepare('UPDATE models SET downloaded = 1 WHERE id = ?').run(existing.id);
    const now = folderColumns(info, existing.path);
    if (Object.entries(now).some(([k, v]) => existing[k as keyof FolderColumns] !== v))
      return { ...refreshModel(lib, existing, now), created: false, updated: true, ...note };
    return {
      ...toRecord({ ...existing, downloaded: existing.downloaded || (input.downloaded ? 1 : 0) }),
      created: false,
      ...note,
    };
  }
  const snap = snapshotOfPath(info.path);
  const row: Omit<ModelRow, 'id'> = {
    ...folderColumns(info, info.path),
    name: checkName(input.name?.trim() || defaultName(info.path), 'model'),
    path: info.path,
    source: input.source ?? (snap ? 'hf-cache' : 'local'),
    is_demo: input.isDemo ? 1 : 0,
    created_at: Date.now(),
    downloaded: input.downloaded ? 1 : 0,
    quantize: 'auto',
  };
  const cols = Object.keys(row);
  // Column names from the code above, never from the input; the values are bound.
  const inserted = lib.db
    .prepare(
      `INSERT INTO models (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})
       ON CONFLICT(path) DO UPDATE SET path = excluded.path
       RETURNING *`,
    )
    .get(row) as ModelRow;
  return { ...toRecord(inserted), created: true, ...note };
}

/**
 * Stores what a registered folder holds now (its files changed since it was added); its name,
 * source and quantize choice stay. Runs and adapters keep the fingerprint they were made with.
 */
function refreshModel(lib: Library, row: ModelRow, now: FolderColumns): ModelRecord {
  const sets = Object.keys(now).map((c) => `${c} = @${c}`);
  // The old files' converted weights go, unless another entry has them or a queued or running run
  // or evaluation reads them (removingFolders checks): those delete them once they end.
  removingFolders(lib, () => {
    lib.db.prepare(`UPDATE models SET ${sets.join(', ')} WHERE id = @id`).run({ ...now, id: row.id });
    return { result: null, folders: baseStores(lib, row.fingerprint) };
  });
  return getModel(lib, row.id);
}

/** The folder of a fingerprint's converted weights (quantize/store.ts), as removingFolders takes it. */
function baseStores(lib: Library, fingerprint: string): string[] {
  const dir = baseStoresFolder(basesRoot(lib.dataDir), fingerprint);
  return dir ? [dir] : [];
}

/**
 * A model given as a library id ("3") or a folder: a folder not yet in the library is added (one
 * already there is reused, see addModel, whose `note` comes along for the caller to say).
 */
export function modelFromRef(lib: Library, ref: string): ModelRecord & { note?: string } {
  if (/^\d+$/.test(ref) && !existsSync(ref)) return getModel(lib, Number(ref));
  return addModel(lib, { path: ref });
}

export function listModels(lib: Library): ModelRecord[] {
  return (
    lib.db.prepare('SELECT * FROM models ORDER BY is_demo DESC, created_at, id').all() as ModelRow[]
  ).map(toRecord);
}

/**
 * Every library model's shape and fingerprint, oldest first, without reading its folder (a moved one
 * included): what an adapter that names no base model is matched against.
 */
export function modelShapes(lib: Library): BaseCandidate[] {
  const rows = lib.db
    .prepare('SELECT id, name, arch, fingerprint, config_json FROM models ORDER BY created_at, id')
    .all() as Pick<ModelRow, 'id' | 'name' | 'arch' | 'fingerprint' | 'config_json'>[];
  return rows.flatMap((r) => {
    const { hiddenSize, numLayers } = shapeOf(textConfig(parseJsonColumn(r.config_json, {})));
    return hiddenSize === null || numLayers === null
      ? []
      : [{ id: r.id, name: r.name, arch: r.arch, fingerprint: r.fingerprint, hiddenSize, numLayers }];
  });
}

export function getModel(lib: Library, id: number): ModelRecord {
  const row = lib.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
  if (!row) throw new ValidationError('not-found', `no model with id ${id}`);
  return toRecord(row);
}

/**
 * Refuses ('in-use') to remove a model a queued or running run or evaluation uses (workUsing): its converted
 * weights (and, with deleteFiles, its folder) would be deleted under the conversion or session
 * reading them, failing that work.
 */
function checkModelIdle(lib: Library, m: ModelRecord): void {
  checkNoEvaluationJobUses(lib, 'model', m);
  const user = workUsing(lib, { model: m.id });
  if (user)
    throw new ValidationError(
      'in-use',
      `model ${m.id} (${m.name}) is used by ${user.kind} ${user.id}, which is ${user.status}; stop it or let it finish first`,
    );
}

/**
 * Forgets a model. Its files are left alone unless `deleteFiles` is set and the studio downloaded
 * them: then the cache snapshot goes, with the blobs no other snapshot uses. Refused while a run or
 * an evaluation uses it (checkModelIdle).
 */
export function removeModel(
  lib: Library,
  id: number,
  opts: { deleteFiles?: boolean } = {},
): { id: number; deletedBytes: number } {
  const m = getModel(lib, id);
  if (opts.deleteFiles && !m.downloaded)
    throw new ValidationError(
      'not-downloaded',
      `model ${id} (${m.name}) was not downloaded by the studio; its files at ${m.path} are left alone`,
    );
  // Its converted weights go with it, unless another entry has the same files (same fingerprint).
  removingFolders(lib, () => {
    checkModelIdle(lib, m);
    const res = lib.db.prepare('DELETE FROM models WHERE id = ?').run(id);
    if (res.changes === 0) throw new ValidationError('not-found', `no model with id ${id}`);
    return { result: null, folders: baseStores(lib, m.fingerprint) };
  });
  let deletedBytes = 0;
  const snap = opts.deleteFiles ? snapshotOfPath(m.path) : null;
  if (snap) deletedBytes = deleteSnapshot(snap.cacheDir, snap.repo, snap.commit);
  return { id, deletedBytes };
}

const QUANTIZE_VALUES = QUANTIZE_OPTION_CHOICES.map((c) => c.value);

/** Sets the form a model's weights are used in by default (runs may still choose another). */
export function setModelQuantize(lib: Library, id: number, quantize: QuantizeOption): ModelRecord {
  if (!QUANTIZE_VALUES.includes(quantize))
    throw new ValidationError('bad-quantize', `quantize must be one of ${QUANTIZE_VALUES.join(', ')}`);
  const res = lib.db.prepare('UPDATE models SET quantize = ? WHERE id = ?').run(quantize, id);
  if (res.changes === 0) throw new ValidationError('not-found', `no model with id ${id}`);
  return getModel(lib, id);
}
