// Finds the models a person already has: every snapshot of a Hugging Face cache folder and any plain
// model folder (config.json) below a folder, each inspected as `models add` would — supported (with
// architecture, size, dtype and what it needs in memory) or the reason it is not. It runs in the
// engine's 'files' process, so it reads folders only: no database (library/models.ts) and no Hub
// client (the caller resolves the default cache folder, cache-dir.ts), which
// tests/backend/engine-imports.test.ts checks.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FormatError, toWireError } from '../../../native-runtime/errors.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import type { DeviceMemory } from '../library/device-memory.ts';
import { type ModelFit, modelFit } from '../library/model-fit.ts';
import { inspectModelFolder, modelFolderBytes } from '../library/model-inspect.ts';
import { tokenizerProblem } from '../library/model-tokenizer.ts';
import { listCachedSnapshots, repoIdOfFolder } from './cache.ts';

export interface ScannedModel {
  /** The folder to register: a snapshot folder or a plain model folder. */
  path: string;
  kind: 'snapshot' | 'folder';
  /** Display name: ORG/NAME (with @ref or @commit when not main) or the folder's name. */
  name: string;
  repo: string | null;
  commit: string | null;
  refs: string[];
  supported: boolean;
  /** Why not, in one line (code and message as errors elsewhere). */
  reason: { code: string; message: string } | null;
  arch: string | null;
  params: number | null;
  dtype: string | null;
  sizeBytes: number;
  fit: ModelFit | null;
}

export interface ScanResult {
  dir: string;
  /** Whether `dir` is (or contains) a Hugging Face cache. */
  cacheLayout: boolean;
  models: ScannedModel[];
}

/**
 * Where to look: a folder a person named (refused when it is no folder), or the Hugging Face cache
 * (hubCacheDir(), which may not exist yet: then nothing is found).
 */
export type ScanWhere = { dir: string } | { cacheDir: string };

export interface ScanOptions {
  /** How many levels below `dir` plain model folders are looked for (default 3). */
  depth?: number;
  /** Devices to judge "what fits" against (default: the computer's memory). */
  devices?: DeviceMemory[];
}

const SKIP = new Set(['node_modules', 'blobs', 'snapshots', 'refs', '.locks', '.git']);

function plainFolders(dir: string, depth: number, out: string[]): void {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  if (entries.some((e) => e.name === 'config.json' && !e.isDirectory())) {
    out.push(dir);
    return;
  }
  if (depth === 0) return;
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || SKIP.has(e.name) || repoIdOfFolder(e.name)) continue;
    plainFolders(join(dir, e.name), depth - 1, out);
  }
}

function inspect(
  base: Omit<ScannedModel, 'supported' | 'reason' | 'arch' | 'params' | 'dtype' | 'sizeBytes' | 'fit'>,
  sizeBytes: number,
  missing: string[],
  devices?: DeviceMemory[],
): ScannedModel {
  const fail = (code: string, message: string): ScannedModel => ({
    ...base,
    supported: false,
    reason: { code, message },
    arch: null,
    params: null,
    dtype: null,
    sizeBytes,
    fit: null,
  });
  if (missing.length)
    return fail(
      'incomplete-download',
      `incomplete download: ${missing.join(', ')} missing${base.repo ? ` (run \`reft-studio models download ${base.repo}\` to finish it)` : ''}`,
    );
  try {
    const info = inspectModelFolder(base.path);
    const tokenizer = tokenizerProblem(base.path);
    if (tokenizer) return fail(tokenizer.code, tokenizer.message);
    const spec = loadModelSpec(base.path);
    return {
      ...base,
      supported: true,
      reason: null,
      arch: info.arch,
      params: info.params,
      dtype: info.dtype,
      sizeBytes: Math.max(sizeBytes, info.sizeBytes),
      fit: modelFit(spec, devices),
    };
  } catch (e) {
    const w = toWireError(e);
    return fail(w.code, w.message);
  }
}

/**
 * Scans a folder or the Hugging Face cache for models. Snapshots come from the cache layout at the
 * folder itself and from any cache below it; plain folders are searched up to `depth` levels down.
 */
export function scanForModels(where: ScanWhere, opts: ScanOptions = {}): ScanResult {
  const named = 'dir' in where;
  const root = resolve(named ? where.dir : where.cacheDir);
  if (named && !existsSync(root)) throw new FormatError('missing-file', `${root}: no such folder`);
  if (named && !statSync(root).isDirectory())
    throw new FormatError('not-a-folder', `${root} is a file; give a folder to look for models in`);
  const models: ScannedModel[] = [];
  let cacheLayout = false;
  const cacheRoots = [root, join(root, 'hub')].filter((d) => existsSync(d));
  for (const c of cacheRoots) {
    for (const s of listCachedSnapshots(c)) {
      cacheLayout = true;
      const ref = s.refs.includes('main') ? '' : `@${s.refs[0] ?? s.commit.slice(0, 10)}`;
      models.push(
        inspect(
          {
            path: s.path,
            kind: 'snapshot',
            name: `${s.repo}${ref}`,
            repo: s.repo,
            commit: s.commit,
            refs: s.refs,
          },
          s.sizeBytes,
          s.missing,
          opts.devices,
        ),
      );
    }
  }
  const folders: string[] = [];
  plainFolders(root, opts.depth ?? 3, folders);
  for (const f of folders) {
    models.push(
      inspect(
        { path: f, kind: 'folder', name: basename(f), repo: null, commit: null, refs: [] },
        modelFolderBytes(f),
        [],
        opts.devices,
      ),
    );
  }
  return { dir: root, cacheLayout, models };
}
