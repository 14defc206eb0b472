// Downloads ONNX Runtime's official CUDA package (Microsoft.ML.OnnxRuntime.Gpu.Linux, the one
// onnxruntime-node's own installer fetches) from NuGet, the way a careful package manager does:
//   - the expected SHA-512 and size come from NuGet's catalog entry for that exact version
//     (registration leaf → catalogEntry → packageHash), and the finished file must match it;
//   - the disk must hold the package plus its extracted libraries before anything is written;
//   - an interrupted download leaves `<file>.part` and continues with an HTTP Range request, whose
//     reply must continue it (its Content-Range is checked; a 200 with the whole file starts over);
//   - a file that does not match is deleted, never installed.
// The source is NuGet's v3 registration base URL; REFT_STUDIO_NUGET_SOURCE or `--source` replace it
// (a mirror, or the tests' local server).

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Progress of a runtime pack install (the download here; extract, copy, verify in runtime-install.ts). */
export interface InstallProgress {
  phase: 'download' | 'extract' | 'copy' | 'verify';
  bytes: number;
  total: number | null;
}

import { byteSize } from '../byte-size.ts';
import { CancelledError, ReftError } from '../errors.ts';
import { makeFolders } from '../formats/atomic-write.ts';
import { networkCause } from '../network-errors.ts';

export const NUGET_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
export const NUGET_SOURCE = 'https://api.nuget.org/v3/registration5-semver1/';

export class DownloadError extends ReftError {}

/** Refuses to start writing `bytes` into `dir` when the disk cannot hold them. */
export async function checkSpace(dir: string, bytes: number): Promise<void> {
  const s = await statfs(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < bytes)
    throw new DownloadError(
      'disk-full',
      `not enough disk space in ${dir}: ${byteSize(bytes)} needed, ${byteSize(free)} free`,
    );
}

export interface Downloaded {
  file: string;
  url: string;
  sha512: string;
}

async function getJson(url: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' } });
  } catch (e) {
    if (signal?.aborted) throw new CancelledError('download cancelled');
    throw new DownloadError('network', `cannot reach ${new URL(url).host}: ${networkCause(e)}`);
  }
  if (res.status === 404) throw new DownloadError('not-found', `${url}: not found (404)`);
  if (!res.ok) throw new DownloadError('http', `${url}: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** The package URL, its SHA-512 (base64, as NuGet states it) and size, from the registry. */
export async function nugetPackageInfo(
  version: string,
  source = NUGET_SOURCE,
  signal?: AbortSignal,
): Promise<{ url: string; sha512: string; size: number | null }> {
  const base = source.endsWith('/') ? source : `${source}/`;
  const leafUrl = new URL(`${NUGET_PACKAGE.toLowerCase()}/${version}.json`, base).href;
  const leaf = await getJson(leafUrl, signal);
  const url = leaf.packageContent;
  let entry = leaf.catalogEntry as Record<string, unknown> | string | undefined;
  if (typeof entry === 'string') entry = await getJson(new URL(entry, leafUrl).href, signal);
  const hash = entry?.packageHash;
  if (typeof url !== 'string' || typeof hash !== 'string' || entry?.packageHashAlgorithm !== 'SHA512')
    throw new DownloadError(
      'bad-registry',
      `${leafUrl}: no package address or SHA-512 for ${NUGET_PACKAGE} ${version}`,
    );
  const size = typeof entry?.packageSize === 'number' ? entry.packageSize : null;
  return { url: new URL(url, leafUrl).href, sha512: hash, size };
}

async function sha512Base64(path: string): Promise<string> {
  const h = createHash('sha512');
  await pipeline(createReadStream(path), h);
  return h.digest('base64');
}

/**
 * A 206 reply must continue the part where it ends: Content-Range `bytes START-END/TOTAL` with START
 * the bytes already on disk and TOTAL the package's size (when known). Anything else appended would
 * corrupt the file, so the part is deleted and the download refused: the next run starts from zero.
 */
async function checkResumedRange(
  res: Response,
  have: number,
  size: number | null,
  part: string,
  what: string,
): Promise<void> {
  const header = res.headers.get('content-range');
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (m && Number(m[1]) === have && (size === null || m[3] === '*' || Number(m[3]) === size)) return;
  await res.body?.cancel();
  await rm(part, { force: true });
  const got = header ? `bytes ${header.replace(/^bytes\s*/, '')}` : 'no Content-Range';
  const wanted = size === null ? `from byte ${have}` : `bytes ${have}-${size - 1}/${size}`;
  throw new DownloadError(
    'bad-range',
    `${new URL(res.url).host} answered the resumed download of ${what} with ${got} instead of ${wanted}; the partial file was deleted, run the command again to download it from the start`,
  );
}

export async function downloadNugetPackage(
  runtimesRoot: string,
  version: string,
  o: {
    source?: string;
    onProgress?: (p: InstallProgress) => void;
    signal?: AbortSignal;
    /** Bytes the install needs besides the package and its extracted libraries. */
    extraBytes?: number;
  } = {},
): Promise<Downloaded> {
  const source = o.source ?? process.env.REFT_STUDIO_NUGET_SOURCE ?? NUGET_SOURCE;
  if (!/^https?:\/\/[^/]/i.test(source) || !URL.canParse(source))
    throw new DownloadError(
      'bad-source',
      `the NuGet source "${source}" (--source or REFT_STUDIO_NUGET_SOURCE) is not an http(s) URL of a NuGet v3 registration`,
    );
  const info = await nugetPackageInfo(version, source, o.signal);
  const dir = join(runtimesRoot, 'downloads');
  makeFolders(dir);
  const file = join(dir, `${NUGET_PACKAGE.toLowerCase()}.${version}.nupkg`);
  const part = `${file}.part`;
  // A finished download from an earlier attempt is reused if it still matches.
  if (existsSync(file) && (await sha512Base64(file)) === info.sha512)
    return { file, url: info.url, sha512: info.sha512 };
  let have = existsSync(part) ? (await stat(part)).size : 0;
  if (info.size !== null && have > info.size) {
    await rm(part, { force: true });
    have = 0;
  }
  // The package, then its libraries unpacked (they compress to about half), then the extras.
  if (info.size !== null) await checkSpace(dir, info.size - have + info.size * 2.5 + (o.extraBytes ?? 0));

  const get = async (from: number): Promise<Response> => {
    try {
      return await fetch(info.url, {
        signal: o.signal,
        headers: from > 0 ? { range: `bytes=${from}-` } : {},
        redirect: 'follow',
      });
    } catch (e) {
      if (o.signal?.aborted) throw new CancelledError('download cancelled');
      throw new DownloadError('network', `cannot download ${info.url}: ${networkCause(e)}`);
    }
  };
  // No request when the part is as long as the package: its checksum decides below.
  let res = info.size !== null && have === info.size ? null : await get(have);
  if (res?.status === 416 && have > 0) {
    // Nothing after `have`: the part is whole (its checksum says so), or the file on the server is
    // shorter than it (changed): then start over.
    await res.body?.cancel();
    if ((await sha512Base64(part)) === info.sha512) res = null;
    else {
      await rm(part, { force: true });
      have = 0;
      res = await get(0);
    }
  }
  if (res === null) {
    // complete already
  } else if (res.status === 200) {
    have = 0; // the whole file (the server ignored the range): start over
  } else if (res.status === 206) {
    await checkResumedRange(res, have, info.size, part, `${NUGET_PACKAGE} ${version}`);
  } else {
    await res.body?.cancel();
    throw new DownloadError('http', `${info.url}: HTTP ${res.status}`);
  }
  const total = info.size ?? (Number(res?.headers.get('content-length')) + have || null);
  if (res?.body) {
    let bytes = have;
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    body.on('data', (c: Buffer) => {
      bytes += c.length;
      o.onProgress?.({ phase: 'download', bytes, total });
    });
    try {
      await pipeline(body, createWriteStream(part, { flags: have > 0 ? 'a' : 'w' }));
    } catch (e) {
      if (o.signal?.aborted)
        throw new CancelledError('download cancelled (the partial file is kept to resume)');
      throw new DownloadError(
        'interrupted',
        `the download of ${NUGET_PACKAGE} ${version} was interrupted (${networkCause(e)}); run the same command again to resume`,
      );
    }
  }
  o.onProgress?.({ phase: 'verify', bytes: 0, total: null });
  const got = await sha512Base64(part);
  if (got !== info.sha512) {
    await rm(part, { force: true });
    throw new DownloadError(
      'checksum-mismatch',
      `${NUGET_PACKAGE} ${version}: the downloaded file's SHA-512 does not match NuGet's (${info.sha512.slice(0, 16)}…); it was deleted, run the command again`,
    );
  }
  await rename(part, file);
  return { file, url: info.url, sha512: info.sha512 };
}
