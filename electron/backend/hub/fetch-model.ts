// `models download` as one function for the CLI and the backend job: resolve the repository at a
// revision, refuse what the engine cannot run before fetching gigabytes, pick the needed files and
// download them into the cache (download.ts).

import { UnsupportedError } from '../../../native-runtime/errors.ts';
import { SUPPORTED_ARCHS } from '../../../native-runtime/models/arch.ts';
import { checkNotQuantized } from '../../../native-runtime/models/config.ts';
import { hubCacheDir } from './cache.ts';
import { type HubAccess, type HubRepoInfo, hubAccess, repoInfo } from './client.ts';
import { type DownloadOptions, type DownloadResult, downloadFiles, probeAccess } from './download.ts';
import { selectModelFiles } from './files.ts';

export interface FetchModelOptions extends Partial<DownloadOptions> {
  revision?: string;
  /** Called once the repository is resolved, before any file is fetched. */
  onResolved?: (info: HubRepoInfo, files: { path: string; size: number }[]) => void;
}

/**
 * Refuses a model_type the engine does not run, naming the supported ones, and a quantized
 * checkpoint (its config declares quantization_config), before any weight is fetched.
 */
export function checkSupportedType(info: Pick<HubRepoInfo, 'repo' | 'modelType' | 'config'>): void {
  if (info.modelType && !(SUPPORTED_ARCHS as readonly string[]).includes(info.modelType))
    throw new UnsupportedError(
      'unsupported-architecture',
      `${info.repo} is a "${info.modelType}" model; the studio runs ${SUPPORTED_ARCHS.join(', ')}`,
    );
  if (info.config) checkNotQuantized(info.config, info.repo);
}

export async function fetchModel(repo: string, opts: FetchModelOptions = {}): Promise<DownloadResult> {
  const access: HubAccess = opts.access ?? hubAccess();
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const info = await repoInfo(repo, opts.revision ?? 'main', SUPPORTED_ARCHS, access);
  checkSupportedType(info);
  const files = selectModelFiles(repo, info.files);
  await probeAccess(access, info.repo, info.commit, 'config.json');
  opts.onResolved?.(info, files);
  return downloadFiles(info, files, { ...opts, cacheDir, access });
}
