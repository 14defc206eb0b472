// `models download` as one function for the CLI and the backend job: resolve the repository at a
// revision, refuse what the engine cannot run before fetching gigabytes, pick the needed files and
// download them into the cache (download.ts).

import { CancelledError, UnsupportedError } from '../../../native-runtime/errors.ts';
import { FILE_LIMITS } from '../../../native-runtime/formats/json-file.ts';
import { SUPPORTED_ARCHS } from '../../../native-runtime/models/arch.ts';
import { checkConfigFeatures } from '../../../native-runtime/models/config.ts';
import { hubCacheDir } from './cache.ts';
import { type HubAccess, type HubFile, type HubRepoInfo, hubAccess, repoInfo } from './client.ts';
import {
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
 * Refuses a model_type the engine does not run, naming the supported ones, and a config the engine
 * cannot build (a quantized checkpoint, an unsupported rope: checkConfigFeatures), before any weight
 * is fetched.
 */
export function checkSupportedType(info: Pick<HubRepoInfo, 'repo' | 'modelType' | 'config'>): void {
  if (info.modelType && !(SUPPORTED_ARCHS as readonly string[]).includes(info.modelType))
    throw new UnsupportedError(
      'unsupported-architecture',
      `${info.repo} is a "${info.modelType}" model; the studio runs ${SUPPORTED_ARCHS.join(', ')}`,
    );
  if (info.config) checkConfigFeatures(info.config, info.repo);
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
    const info = await repoInfo(repo, opts.revision ?? 'main', SUPPORTED_ARCHS, access);
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
