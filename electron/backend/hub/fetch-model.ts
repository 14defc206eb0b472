// `models download` as one function for the CLI and the backend job: resolve the repository at a
// revision, refuse what the engine cannot run before fetching gigabytes, pick the needed files and
// download them into the cache (download.ts).

import { CancelledError } from '../../../native-runtime/errors.ts';
import { FILE_LIMITS, parseJsonText, readJsonObject } from '../../../native-runtime/formats/json-file.ts';
import { blobPath } from './cache.ts';
import { hubCacheDir } from './cache-dir.ts';
import {
  checkSupportedType,
  type HubAccess,
  type HubFile,
  type HubRepoInfo,
  hubAccess,
  repoInfo,
  unsupportedReason,
} from './client.ts';
import {
  blobComplete,
  type DownloadOptions,
  type DownloadResult,
  downloadFiles,
  fetchRepoFile,
  probeAccess,
} from './download.ts';
import { SHARD_INDEX, selectModelFiles, shardFiles } from './files.ts';

export interface FetchModelOptions extends Partial<DownloadOptions> {
  revision?: string;
  /** Called once the repository is resolved, before any file is fetched. */
  onResolved?: (info: HubRepoInfo, files: { path: string; size: number }[]) => void;
}

/**
 * `info` with the whole config.json in place of the fields the Hub's model info gives (a rope the
 * graphs do not build sits in the fields it leaves out), `supported`/`unsupported` judged again on
 * it. The file is read from the cache when its blob is there (a second download transfers nothing),
 * else from the Hub; the info's fields stand in when neither can be read.
 */
export async function withFullConfig(
  info: HubRepoInfo,
  access: HubAccess,
  cacheDir: string,
): Promise<HubRepoInfo> {
  if (!info.supported) return info;
  const file = info.files.find((f) => f.path === 'config.json');
  const blob = file ? blobPath(cacheDir, info.repo, file.etag) : null;
  let config: Record<string, unknown> | null = null;
  try {
    if (file && blob && blobComplete(blob, file))
      config = readJsonObject(blob, `${info.repo}/config.json`, FILE_LIMITS.config);
    else if (file) {
      const text = await fetchRepoFile(access, info.repo, info.commit, 'config.json', FILE_LIMITS.config);
      const v = parseJsonText(text, `${info.repo}/config.json`);
      if (v && typeof v === 'object' && !Array.isArray(v)) config = v as Record<string, unknown>;
    }
  } catch (e) {
    // A refused or unreadable file is reported where the download reads it (probeAccess, the
    // transfer, the model folder's own checks); here it only leaves the info's fields to judge.
    if (access.signal?.aborted) throw e;
  }
  config ??= info.config;
  const unsupported = unsupportedReason({ ...info, config });
  return { ...info, config, supported: unsupported === null, unsupported };
}

/** What a download of the repository fetches: selectModelFiles, and the shards its index names. */
export async function modelFiles(
  info: Pick<HubRepoInfo, 'repo' | 'commit' | 'files'>,
  access: HubAccess,
): Promise<HubFile[]> {
  const files = selectModelFiles(info.repo, info.files);
  if (!files.some((f) => f.path === SHARD_INDEX)) return files;
  const index = await fetchRepoFile(access, info.repo, info.commit, SHARD_INDEX, FILE_LIMITS.index);
  return [...files, ...shardFiles(info.repo, info.files, index)];
}

export async function fetchModel(repo: string, opts: FetchModelOptions = {}): Promise<DownloadResult> {
  // The signal reaches the requests that resolve the repository too: a Hub that does not answer is
  // left at once on a cancel, not after its timeout (minutes).
  const access: HubAccess = { ...(opts.access ?? hubAccess()), signal: opts.signal };
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  let resolved: { info: HubRepoInfo; files: HubFile[] };
  try {
    const info = await withFullConfig(
      await repoInfo(repo, opts.revision ?? 'main', access),
      access,
      cacheDir,
    );
    checkSupportedType(info);
    selectModelFiles(repo, info.files);
    await probeAccess(access, info.repo, info.commit, 'config.json');
    resolved = { info, files: await modelFiles(info, access) };
  } catch (e) {
    if (opts.signal?.aborted) throw new CancelledError('download cancelled before any file was fetched');
    throw e;
  }
  const { info, files } = resolved;
  opts.onResolved?.(info, files);
  return downloadFiles(info, files, { ...opts, cacheDir, access });
}
