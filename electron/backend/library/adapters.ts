// Trained adapters in the library: where the folder is, which base model it belongs to (by
// fingerprint), its manifest, the run and dataset version that made it, and free-form tags.
// Removing an adapter deletes its folder only when that folder is inside the data folder.

import { rmSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { type Library, parseJsonColumn } from './library.ts';

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
  tags: string | null;
}

const SELECT_ADAPTER = `SELECT a.*, (SELECT json_group_array(tag) FROM (SELECT tag FROM adapter_tags WHERE adapter_id = a.id ORDER BY tag)) AS tags
  FROM adapters a`;

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
}

/** Records an adapter folder written by training or import. */
export function registerAdapter(lib: Library, input: RegisterAdapterInput): AdapterRecord {
  const id = lib.db.transaction(() => {
    const row = lib.db
      .prepare(
        `INSERT INTO adapters (name, path, type, base_model_fingerprint, manifest_json, run_id, dataset_version_id, size_bytes, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      )
      .get(
        input.name,
        resolve(input.path),
        input.type,
        input.baseModelFingerprint,
        JSON.stringify(input.manifest ?? {}),
        input.runId ?? null,
        input.datasetVersionId ?? null,
        input.sizeBytes ?? null,
        Date.now(),
      ) as { id: number };
    const tag = lib.db.prepare('INSERT OR IGNORE INTO adapter_tags (adapter_id, tag) VALUES (?, ?)');
    for (const t of input.tags ?? []) tag.run(row.id, normalizeTag(t));
    return row.id;
  })();
  return getAdapter(lib, id);
}

export function listAdapters(
  lib: Library,
  filter: { tag?: string; baseModelFingerprint?: string } = {},
): AdapterRecord[] {
  const rows = lib.db.prepare(`${SELECT_ADAPTER} ORDER BY a.id DESC`).all() as AdapterRow[];
  return rows
    .map(toRecord)
    .filter((a) => (filter.tag ? a.tags.includes(filter.tag) : true))
    .filter((a) =>
      filter.baseModelFingerprint ? a.baseModelFingerprint === filter.baseModelFingerprint : true,
    );
}

export function getAdapter(lib: Library, id: number): AdapterRecord {
  const row = lib.db.prepare(`${SELECT_ADAPTER} WHERE a.id = ?`).get(id) as AdapterRow | undefined;
  if (!row) throw new ValidationError('not-found', `no adapter with id ${id}`);
  return toRecord(row);
}

function normalizeTag(tag: string): string {
  const t = tag.trim();
  if (!t || t.length > 64) throw new ValidationError('bad-tag', 'a tag must be 1 to 64 characters');
  return t;
}

/** Adds and/or removes tags; returns the adapter with its new tags. */
export function tagAdapter(
  lib: Library,
  id: number,
  change: { add?: string[]; remove?: string[] },
): AdapterRecord {
  getAdapter(lib, id);
  lib.db.transaction(() => {
    const add = lib.db.prepare('INSERT OR IGNORE INTO adapter_tags (adapter_id, tag) VALUES (?, ?)');
    const del = lib.db.prepare('DELETE FROM adapter_tags WHERE adapter_id = ? AND tag = ?');
    for (const t of change.add ?? []) add.run(id, normalizeTag(t));
    for (const t of change.remove ?? []) del.run(id, t.trim());
  })();
  return getAdapter(lib, id);
}

export function renameAdapter(lib: Library, id: number, name: string): AdapterRecord {
  const n = name.trim();
  if (!n) throw new ValidationError('bad-name', 'the name cannot be empty');
  if (lib.db.prepare('UPDATE adapters SET name = ? WHERE id = ?').run(n, id).changes === 0) {
    throw new ValidationError('not-found', `no adapter with id ${id}`);
  }
  return getAdapter(lib, id);
}

/** Forgets an adapter; its folder is deleted only if the library owns it (inside the data folder). */
export function removeAdapter(lib: Library, id: number): { id: number; deletedFiles: boolean } {
  const a = getAdapter(lib, id);
  lib.db.prepare('DELETE FROM adapters WHERE id = ?').run(id);
  const rel = relative(resolve(lib.dataDir), resolve(a.path));
  const owned = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  if (owned) rmSync(a.path, { recursive: true, force: true });
  return { id, deletedFiles: owned };
}
