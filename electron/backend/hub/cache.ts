// The Hugging Face cache layout, shared with huggingface_hub and transformers so a model downloaded
// by either side is reused by the other:
//   <cache>/models--ORG--NAME/blobs/<etag>                 file contents (etag = sha256 for LFS files,
//                                                           the git blob sha1 for the others)
//   <cache>/models--ORG--NAME/blobs/<etag>.incomplete      a partial download, resumed with Range
//   <cache>/models--ORG--NAME/snapshots/<commit>/<path>    relative symlinks into blobs/
//   <cache>/models--ORG--NAME/refs/<revision>              the commit a branch or tag pointed at
// Which folder is the cache is cache-dir.ts's: this module does not load @huggingface/hub, so the
// engine's 'files' process can read the layout (hub/scan.ts) without it.

import {
  copyFileSync,
  existsSync,
  lstatSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import {
  isFileTemp,
  makeFolders,
  sweepTempFiles,
  writeFileAtomic,
} from '../../../native-runtime/formats/atomic-write.ts';
import { readRef } from '../../../native-runtime/models/model-folder.ts';

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** Checks an ORG/NAME model id (no traversal, no URL), the way the Hub names repositories. */
export function checkRepoId(repo: string): string {
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.endsWith('.git'))
    throw new ValidationError('bad-repo-id', `"${repo}" is not a model id of the form ORG/NAME`);
  return repo;
}

/** Checks a revision (branch, tag or commit): Hub ref characters only, no traversal. */
export function checkRevision(revision: string): string {
  if (!/^[\w.\-/]+$/.test(revision) || revision.includes('..'))
    throw new ValidationError('bad-revision', `"${revision}" is not a branch, tag or commit`);
  return revision;
}

/** models--ORG--NAME, as huggingface_hub names a model repository's folder. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

/** ORG/NAME from a models--ORG--NAME folder name, or null for anything else. */
export function repoIdOfFolder(name: string): string | null {
  if (!name.startsWith('models--')) return null;
  const parts = name.slice('models--'.length).split('--');
  return parts.length >= 2 && parts.every(Boolean) ? parts.join('/') : null;
}

export function repoDir(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag))
    throw new ValidationError('bad-etag', `${repo}: the Hub gave a malformed file hash "${etag}"`);
  return join(repoDir(cacheDir, repo), 'blobs', etag);
}

/** A file path inside a repository, refused when it would leave the snapshot folder. */
export function snapshotFile(cacheDir: string, repo: string, commit: string, path: string): string {
  const base = join(repoDir(cacheDir, repo), 'snapshots', commit);
  const full = resolve(base, path);
  if (!full.startsWith(base + sep) || path.includes('\\'))
    throw new ValidationError('bad-path', `${repo}: file name "${path}" leaves the model folder`);
  return full;
}

/**
 * Points snapshots/<commit>/<path> at the blob with a relative symlink (as huggingface_hub does, so
 * the cache can be moved). Where symlinks are not allowed (Windows without developer mode) the blob
 * is copied instead, again as huggingface_hub does.
 */
export function linkSnapshotFile(pointer: string, blob: string): void {
  makeFolders(dirname(pointer));
  try {
    lstatSync(pointer);
    unlinkSync(pointer);
  } catch {}
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    copyFileSync(blob, pointer);
  }
}

/**
 * Records which commit a branch or tag name pointed at (refs/<revision>), atomically. The temp files
 * of writes killed before their rename are removed here once ten minutes old (younger ones may be
 * another process's write in flight), as the data folder's are at start-up.
 */
export function writeRef(cacheDir: string, repo: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const refsDir = join(repoDir(cacheDir, repo), 'refs');
  const file = join(refsDir, revision);
  if (!file.startsWith(refsDir + sep))
    throw new ValidationError('bad-revision', `${repo}: revision "${revision}" is not a branch or tag name`);
  sweepTempFiles(refsDir, undefined, { exactNames: true });
  writeFileAtomic(file, commit, { createDir: true });
}

export interface CachedSnapshot {
  repo: string;
  commit: string;
  /** Branch/tag names in refs/ pointing at this commit. */
  refs: string[];
  path: string;
  /** Files of the snapshot whose blob is missing (an interrupted or pruned download). */
  missing: string[];
  /** Bytes of the blobs this snapshot points at. */
  sizeBytes: number;
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out;
}

/** The branches and tags of a repository folder by the commit each names; a ref that cannot be read is left out. */
export function readRefs(repoPath: string): Map<string, string[]> {
  const byCommit = new Map<string, string[]>();
  const refsDir = join(repoPath, 'refs');
  let names: string[];
  try {
    names = listFiles(refsDir);
  } catch {
    return byCommit; // none, or not a readable folder
  }
  // A write in flight (or killed before its rename) is no ref.
  for (const name of names.filter((n) => !isFileTemp(n))) {
    try {
      const commit = readRef(join(refsDir, name), repoPath);
      byCommit.set(commit, [...(byCommit.get(commit) ?? []), name]);
    } catch {}
  }
  return byCommit;
}

/** Every model snapshot in a cache folder (datasets and spaces are skipped). Never throws on one bad repo. */
export function listCachedSnapshots(cacheDir: string): CachedSnapshot[] {
  if (!existsSync(cacheDir) || !statSync(cacheDir).isDirectory()) return [];
  const out: CachedSnapshot[] = [];
  for (const name of readdirSync(cacheDir).sort()) {
    const repo = repoIdOfFolder(name);
    const snapshots = join(cacheDir, name, 'snapshots');
    if (!repo || !existsSync(snapshots)) continue;
    const refs = readRefs(join(cacheDir, name));
    let commits: string[];
    try {
      commits = readdirSync(snapshots).sort();
    } catch {
      continue; // snapshots/ is not a readable folder: nothing of this repository to list
    }
    for (const commit of commits) {
      const path = join(snapshots, commit);
      let files: string[];
      try {
        if (!statSync(path).isDirectory()) continue;
        files = listFiles(path);
      } catch {
        continue;
      }
      const missing: string[] = [];
      let sizeBytes = 0;
      for (const f of files) {
        try {
          sizeBytes += statSync(join(path, f)).size;
        } catch {
          missing.push(f);
        }
      }
      out.push({ repo, commit, refs: refs.get(commit) ?? [], path, missing, sizeBytes });
    }
  }
  return out;
}

/** Which snapshot of a repository folder a cache path lies in, or null when it is not in the layout. */
export function snapshotOfPath(path: string): { cacheDir: string; repo: string; commit: string } | null {
  const parts = resolve(path).split(sep);
  const i = parts.findIndex((p, k) => repoIdOfFolder(p) !== null && parts[k + 1] === 'snapshots');
  if (i < 0 || !parts[i + 2]) return null;
  const repo = repoIdOfFolder(parts[i]) as string;
  return { cacheDir: parts.slice(0, i).join(sep) || sep, repo, commit: parts[i + 2] };
}

/**
 * Deletes one snapshot and the blobs no other snapshot of the repository uses; the repository folder
 * goes too once no snapshot is left. Returns the bytes freed. Partial downloads (*.incomplete) of the
 * repository stay unless the whole folder goes.
 */
export function deleteSnapshot(cacheDir: string, repo: string, commit: string): number {
  const root = repoDir(cacheDir, repo);
  const snap = join(root, 'snapshots', commit);
  if (!existsSync(snap)) return 0;
  const blobsOf = (dir: string): Set<string> => {
    const s = new Set<string>();
    for (const f of listFiles(dir)) {
      try {
        s.add(realpathSync(join(dir, f)));
      } catch {}
    }
    return s;
  };
  const mine = blobsOf(snap);
  const others = new Set<string>();
  for (const c of readdirSync(join(root, 'snapshots'))) {
    if (c !== commit) for (const b of blobsOf(join(root, 'snapshots', c))) others.add(b);
  }
  let freed = 0;
  rmSync(snap, { recursive: true, force: true });
  for (const b of mine) {
    if (others.has(b) || !b.startsWith(join(realpathSync(root), 'blobs') + sep)) continue;
    try {
      freed += statSync(b).size;
      rmSync(b, { force: true });
    } catch {}
  }
  // refs pointing at the deleted commit would name a snapshot that no longer exists.
  for (const [c, names] of readRefs(root)) {
    if (c === commit) for (const n of names) rmSync(join(root, 'refs', n), { force: true });
  }
  if (readdirSync(join(root, 'snapshots')).length === 0) rmSync(root, { recursive: true, force: true });
  return freed;
}
