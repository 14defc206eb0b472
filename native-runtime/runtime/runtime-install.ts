// `reft-studio runtime install cuda`: puts ONNX Runtime's CUDA provider libraries, of the app's own
// ONNX Runtime version, into the data folder as a runtime pack (see cuda-pack.ts for the layout and
// how processes find it). Sources:
//   online   the official NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux (nuget-download.ts:
//            checksum from NuGet's catalog, resumable, disk space checked)
//   --from   a .nupkg/.zip or .tgz/.tar.gz holding the providers, or a folder containing them
//            anywhere below it (an unpacked NuGet or registry package); CUDA/cuDNN libraries found
//            beside them go into the pack's lib/ (a fully offline bundle).
// The pack is assembled in a temporary folder and renamed into place, so a failed, cancelled or
// interrupted install leaves the previous pack (or none) untouched. The temporary and moved-aside
// folders are named as atomic-write.ts names its own (`.cuda.TAG.tmp`, `.cuda.TAG.old`), so what a
// killed install leaves is swept (a pack moved aside put back): by the next install or removal at
// once, as it holds the lock, and by cuda-pack.ts (sweepRuntimes) once ten minutes old.
// Installs and removals in one data folder take turns through the lock file runtimes/.lock
// (pid-lock.ts): the one that comes second is refused, naming the process that runs the first.
// The install holding it records its progress for other processes (install-progress.ts).

import { createHash, randomBytes } from 'node:crypto';
import {
  constants,
  createReadStream,
  createWriteStream,
  type Dirent,
  existsSync,
  rmdirSync,
  rmSync,
} from 'node:fs';
import { access, cp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { CancelledError, ConfigError, FormatError, ReftError } from '../errors.ts';
import {
  firstMissingFolder,
  makeFolders,
  removeMadeFolders,
  sweepTempFiles,
  writeFileAtomic,
} from '../formats/atomic-write.ts';
import { ERRNO, fileError } from '../fs-errors.ts';
import { acquirePidLock } from '../pid-lock.ts';
import {
  ORT_LIB,
  ortPackage,
  type PackManifest,
  PROVIDER_LIBS,
  packDir,
  providerNeeds,
  runtimesDir,
  runtimesLock,
} from './cuda-pack.ts';
import { notLinuxX64Library } from './elf.ts';
import { installRecordFile, recordInstall } from './install-progress.ts';
import { checkSpace, downloadNugetPackage, type InstallProgress, NUGET_PACKAGE } from './nuget-download.ts';

export type { InstallProgress } from './nuget-download.ts';

export interface InstallOptions {
  /** A .nupkg/.zip, .tgz/.tar.gz or folder; omitted: download from NuGet. */
  from?: string;
  /** NuGet registration base URL (tests point it at a local server). */
  source?: string;
  onProgress?: (p: InstallProgress) => void;
  /** Something the person should know about an install that succeeded. */
  onWarning?: (text: string) => void;
  signal?: AbortSignal;
}

/** Cancel (Settings, Ctrl-C) stops the download at once and unpacking or copying between pieces; never a swap. */
function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new CancelledError('runtime install cancelled; the installed pack (if any) is unchanged');
}

/**
 * A write into the pack that failed while unpacking or copying (a full disk above all), said as that:
 * a .tgz's unpacker only warned and went on, and its truncated files were then reported as "not an
 * ELF library"; a write's own error names a file in the temporary folder the person never sees.
 */
function writeFailure(e: unknown, root: string, source: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const known = typeof err?.code === 'string' ? ERRNO[err.code] : undefined;
  const ours = err?.syscall === 'write' || (typeof err?.path === 'string' && err.path.startsWith(root));
  return known && ours
    ? new ReftError(
        known.code,
        `runtime install: cannot write the pack into ${root} while unpacking ${source} (${known.phrase})`,
        { cause: e },
      )
    : e;
}

/** CUDA/cuDNN libraries worth carrying along when a folder or archive has them. */
const CUDA_LIB =
  /^lib(cudart|cublas|cublasLt|cufft|curand|cudnn\w*|nvrtc[\w-]*|nvJitLink|cusparse|cusolver)\.so[.\d]*$/;

export async function installCudaPack(dataDir: string, o: InstallOptions = {}): Promise<PackManifest> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new ConfigError(
      'unsupported-platform',
      `the CUDA runtime pack is available for Linux x64 only (this is ${process.platform} ${process.arch})`,
    );
  // An install that fails (refused for space, a full disk, a bad source) leaves no empty runtimes/
  // folder that it made; one holding a partial download to resume, or another process's lock, stays.
  const root = runtimesDir(dataDir);
  const made = firstMissingFolder(root);
  try {
    return await lockedInstall(dataDir, o);
  } catch (e) {
    if (made) {
      try {
        rmdirSync(join(root, 'downloads'));
      } catch {}
      removeMadeFolders(root, made);
    }
    throw e;
  }
}

/** installCudaPack with the runtimes folder locked for it (or refused while another holds it). */
async function lockedInstall(dataDir: string, o: InstallOptions): Promise<PackManifest> {
  const release = await lockRuntimes(dataDir, 'an install of the CUDA pack', 'runtime install').catch((e) => {
    throw fileError(e, 'runtime install');
  });
  // Recorded for other processes (an open studio) by the lock's holder only: a refused install must
  // not overwrite the running one's progress.
  const record = recordInstall(dataDir);
  try {
    const manifest = await install(dataDir, {
      ...o,
      onProgress: (p) => {
        record.progress(p);
        o.onProgress?.(p);
      },
    });
    return manifest;
  } catch (e) {
    throw fileError(e, 'runtime install');
  } finally {
    record.end();
    release();
  }
}

/** The install itself, with the runtimes folder locked. */
async function install(dataDir: string, o: InstallOptions): Promise<PackManifest> {
  const ort = ortPackage();
  const root = runtimesDir(dataDir);
  const tag = randomBytes(6).toString('hex');
  const staging = join(root, `.cuda.${tag}.tmp`);
  // Made just before it is filled, not before a download: a NuGet download can outlast the sweep's
  // 10 minutes, and a staging folder that old is what a killed install leaves (another process
  // listing packs meanwhile would delete it).
  const makeStaging = () => makeFolders(join(staging, 'ort'));
  // Unpacking or copying: stopped by Cancel between pieces, a write that failed said as such.
  const unpack = async (source: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (e) {
      checkCancel(o.signal);
      throw writeFailure(e, root, source);
    }
  };
  try {
    let source: PackManifest['source'];
    if (o.from !== undefined) {
      // An empty --from is a mistake, not a request to download.
      if (!o.from.trim())
        throw new ConfigError('not-found', 'runtime install: --from needs a file or folder');
      const st = await stat(o.from).catch(() => null);
      if (!st) throw new ConfigError('not-found', `runtime install: ${o.from}: ${ERRNO.ENOENT.phrase}`);
      makeStaging();
      // Recorded absolute: `runtime list` reads it from whatever folder it is run in.
      const location = resolve(o.from);
      const from = o.from;
      if (st.isDirectory()) {
        await unpack(from, () => copyFromFolder(from, staging, ort.version, o));
        source = { kind: 'folder', location };
      } else {
        await unpack(from, () => extractArchive(from, staging, ort.version, o));
        source = { kind: 'archive', location };
      }
    } else {
      const dl = await downloadNugetPackage(root, ort.version, {
        source: o.source,
        onProgress: o.onProgress,
        signal: o.signal,
        // The pack needs the archive, its extracted providers and a copy of libonnxruntime.so.1.
        extraBytes: (await stat(join(ort.binDir, ORT_LIB))).size,
      });
      makeStaging();
      await unpack(dl.file, () => extractArchive(dl.file, staging, ort.version, o));
      source = { kind: 'nuget', location: dl.url, sha512: dl.sha512 };
      await rm(dl.file, { force: true });
    }
    checkCancel(o.signal);
    for (const f of PROVIDER_LIBS) {
      const p = join(staging, 'ort', f);
      if (!existsSync(p))
        throw new FormatError('pack-incomplete', `runtime install: ${o.from ?? 'the package'} has no ${f}`);
      // Said of the source, not of the staging copy the reader would name.
      const wrong = notLinuxX64Library(p);
      if (wrong)
        throw new FormatError(
          'bad-provider',
          `runtime install: the ${f} in ${o.from ?? 'the package'} is ${wrong}; the pack needs ONNX Runtime's Linux x64 GPU build`,
        );
    }
    // The provider must sit beside a libonnxruntime.so.1 of the same version: the app's own.
    await checkSpace(root, (await stat(join(ort.binDir, ORT_LIB))).size);
    await cp(join(ort.binDir, ORT_LIB), join(staging, 'ort', ORT_LIB));
    o.onProgress?.({ phase: 'verify', bytes: 0, total: null });
    const { needs, cudaMajor } = (() => {
      try {
        return providerNeeds(join(staging, 'ort', PROVIDER_LIBS[1]));
      } catch (e) {
        const why = (e as Error).message.replace(/^.*?: /, '');
        throw new FormatError(
          'bad-provider',
          `runtime install: the ${PROVIDER_LIBS[1]} in ${o.from ?? 'the package'} cannot be read (${why})`,
        );
      }
    })();
    const files: PackManifest['files'] = [];
    for (const sub of ['ort', 'lib']) {
      const d = join(staging, sub);
      if (!existsSync(d)) continue;
      for (const name of (await readdir(d)).sort()) {
        const p = join(d, name);
        files.push({ path: `${sub}/${name}`, bytes: (await stat(p)).size, sha256: await sha256(p) });
      }
    }
    const manifest: PackManifest = {
      name: 'cuda',
      ortVersion: ort.version,
      installedAt: new Date().toISOString(),
      source,
      files,
      needs,
      cudaMajor,
    };
    writeFileAtomic(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    checkCancel(o.signal);
    // Swap in: the old pack moves aside first, so there is always a complete pack or one to put back.
    const target = packDir(dataDir, 'cuda');
    const old = join(root, `.cuda.${tag}.old`);
    const hadPack = existsSync(target);
    if (hadPack) await rename(target, old);
    try {
      await rename(staging, target);
    } catch (e) {
      if (hadPack) await rename(old, target);
      throw e;
    }
    // The new pack is in place and used from here on: an old one that cannot be deleted (a folder
    // this user may not write) costs only its space, said as a warning, not as a failed install.
    await rm(old, { recursive: true, force: true }).catch((e: NodeJS.ErrnoException) => {
      const why = (e.code && ERRNO[e.code]?.phrase) || e.message;
      o.onWarning?.(
        `runtime install: installed; the previous pack could not be deleted (${e.path ?? old}: ${why}): delete ${old} to free its space`,
      );
    });
    return manifest;
  } catch (e) {
    // Retried: the unpacker of an archive that failed part-way may still be creating the files it
    // had begun. The install's own error is the one to tell; a folder that still cannot be removed
    // is a leftover the next install (or sweepRuntimes) deletes, never a pack that is used.
    await rm(staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }).catch(() => {});
    throw e;
  }
}

export async function removePack(dataDir: string, name: string): Promise<boolean> {
  // A pack's folder name; never `..` (the data folder itself), nor a dot name (the lock, temp folders).
  if (!/^[\w-][\w.-]*$/.test(name) || name === 'downloads')
    throw new ConfigError('bad-name', `runtime remove: no runtime pack is called "${name}"`);
  const dir = packDir(dataDir, name);
  if (!existsSync(join(dir, 'manifest.json'))) return false;
  try {
    const release = await lockRuntimes(dataDir, `a removal of the ${name} pack`, 'runtime remove');
    try {
      // Gone meanwhile: removed by the process that held the lock.
      if (!existsSync(join(dir, 'manifest.json'))) return false;
      // Rename first so a half-deleted pack is never mistaken for an installed one.
      const gone = join(runtimesDir(dataDir), `.${name}.${randomBytes(6).toString('hex')}.tmp`);
      await rename(dir, gone);
      await rm(gone, { recursive: true, force: true });
      return true;
    } finally {
      release();
    }
  } catch (e) {
    throw fileError(e, 'runtime remove');
  }
}

/**
 * Installs and removals in one data folder take turns (two CLIs, or the CLI and the studio's
 * Settings page): one would rename its pack onto the other's, or delete it half-way. The lock file
 * `runtimes/.lock` names the process holding it; a dead one's is taken over.
 */
async function lockRuntimes(dataDir: string, doing: string, command: string): Promise<() => void> {
  const root = runtimesDir(dataDir);
  await writableDir(root);
  const release = acquirePidLock(
    runtimesLock(dataDir),
    doing,
    (holder) =>
      new ConfigError(
        'busy',
        `${command}: ${holder.doing || 'an install or removal of a runtime pack'} is already running (process ${holder.pid}); try again when it has finished`,
      ),
  );
  // With the lock held, every temp folder here is a killed install's or removal's: swept whatever
  // its age (a killed install of GBs of CUDA libraries would keep that space for ten minutes), a
  // pack moved aside put back. Not the lock's own temp files: another process may be taking it.
  sweepTempFiles(root, 0, { foldersOnly: true });
  // A killed install's progress record (install-progress.ts): no install runs now.
  rmSync(installRecordFile(dataDir), { force: true });
  return release;
}

/**
 * Makes `dir` (mkdir -p) and checks it can be written, so a read-only data folder is named as such
 * (Node reports a read-only or forbidden parent as ENOENT from mkdir -p, and the lock's own temp
 * file name would mean nothing to the person).
 */
async function writableDir(dir: string): Promise<void> {
  let up = dir;
  while (!existsSync(up) && dirname(up) !== up) up = dirname(up);
  await access(up, constants.W_OK); // throws EROFS or EACCES naming that folder
  makeFolders(dir); // a file on the path (or at it) is ENOTDIR naming that file: "FILE: not a folder"

  await access(dir, constants.W_OK);
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** Copies the providers (and any CUDA libraries beside them) from a folder, searched recursively. */
async function copyFromFolder(from: string, staging: string, ortVersion: string, o: InstallOptions) {
  const dir = await findProviderDir(from, 6);
  if (!dir)
    throw new FormatError(
      'pack-incomplete',
      `runtime install: no ${PROVIDER_LIBS[1]} in ${from} or its subfolders`,
    );
  checkVersion(from, await folderVersion(from, dir), ortVersion);
  const names = await readdir(dir);
  const wanted = names.filter((n) => (PROVIDER_LIBS as readonly string[]).includes(n) || CUDA_LIB.test(n));
  let total = 0;
  for (const n of wanted) total += (await stat(join(dir, n))).size;
  // Said of the runtimes folder the person knows, not of the temporary folder inside it.
  await checkSpace(dirname(staging), total);
  let done = 0;
  for (const n of wanted) {
    checkCancel(o.signal);
    const dest = join(staging, CUDA_LIB.test(n) ? 'lib' : 'ort', n);
    makeFolders(dirname(dest));
    await cp(join(dir, n), dest, { dereference: true });
    done += (await stat(dest)).size;
    o.onProgress?.({ phase: 'copy', bytes: done, total });
  }
}

/**
 * The ONNX Runtime version an unpacked package states, as its archive would: a NuGet package's
 * .nuspec or a release's VERSION_NUMBER, in `from` or a folder on the way down to the providers.
 * Without it a folder of another version was installed (and recorded as the app's version).
 */
async function folderVersion(from: string, providerDir: string): Promise<string | undefined> {
  let dir = from;
  for (const step of ['', ...relative(from, providerDir).split(sep).filter(Boolean)]) {
    dir = join(dir, step);
    const names = await readdir(dir);
    const nuspec = names.find((n) => n.endsWith('.nuspec'));
    if (nuspec) return nuspecVersion(await readFile(join(dir, nuspec), 'utf8'));
    if (names.includes('VERSION_NUMBER')) return (await readFile(join(dir, 'VERSION_NUMBER'), 'utf8')).trim();
  }
  return undefined;
}

async function findProviderDir(dir: string, depth: number): Promise<string | null> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  if (entries.some((e) => e.name === PROVIDER_LIBS[1])) return dir;
  if (depth === 0) return null;
  for (const e of entries)
    if (e.isDirectory() && !otherPlatform(e.name)) {
      const found = await findProviderDir(join(dir, e.name), depth - 1);
      if (found) return found;
    }
  return null;
}

/** Extracts the providers (and CUDA libraries) from a zip/nupkg or a gzipped tar into staging. */
async function extractArchive(
  file: string,
  staging: string,
  ortVersion: string,
  o: InstallOptions,
): Promise<void> {
  const head = Buffer.alloc(4);
  const fh = await open(file, 'r');
  await fh.read(head, 0, 4, 0);
  await fh.close();
  if (head.readUInt32LE(0) === 0x04034b50) return extractZip(file, staging, ortVersion, o);
  if (head[0] === 0x1f && head[1] === 0x8b) return extractTgz(file, staging, ortVersion, o);
  if (head.readUInt32BE(0) === 0x7f454c46)
    throw new FormatError(
      'unknown-archive',
      `runtime install: ${file} is a library, not a package: pass the folder holding it and ${PROVIDER_LIBS[0]} with --from`,
    );
  throw new FormatError(
    'unknown-archive',
    `runtime install: ${file} is neither a zip/.nupkg nor a .tgz (unpack it and pass the folder with --from)`,
  );
}

/**
 * Words in a folder name that mark another platform's build in a multi-platform package: NuGet's
 * runtimes/win-x64/ or runtimes/linux-arm64/, onnxruntime-node's bin/napi-v6/darwin/arm64/, a
 * release archive's onnxruntime-linux-aarch64-1.x/, CUDA's targets/sbsa-linux/. Only this
 * platform's (Linux x64) files are installed, whatever the archive or folder form.
 */
const OTHER_PLATFORM_WORDS = new Set([
  'win',
  'win32',
  'win64',
  'windows',
  'osx',
  'darwin',
  'macos',
  'ios',
  'android',
  'arm',
  'arm64',
  'aarch64',
  'armhf',
  'x86',
  'musl',
  'sbsa',
]);

const otherPlatform = (folder: string): boolean =>
  folder
    .toLowerCase()
    .split(/[-.]/)
    .some((w) => OTHER_PLATFORM_WORDS.has(w));

/**
 * Where a file of an archive goes in the pack (ort/ or lib/), from its path inside the archive;
 * null when the pack does not want it or it is another platform's. The same for zip and tgz.
 */
const destFor = (entry: string): string | null => {
  const folders = entry.split('/').filter(Boolean);
  const base = folders.pop() ?? '';
  if (folders.some(otherPlatform)) return null;
  if ((PROVIDER_LIBS as readonly string[]).includes(base)) return join('ort', base);
  if (CUDA_LIB.test(base)) return join('lib', base);
  return null;
};

/** A package that states its ONNX Runtime version (.nuspec, a release's VERSION_NUMBER) must be ours. */
function checkVersion(file: string, stated: string | undefined, ortVersion: string): void {
  if (stated && stated !== ortVersion)
    throw new ConfigError(
      'version-mismatch',
      `runtime install: ${basename(file)} is ONNX Runtime ${stated}; the app runs ${ortVersion} and needs the same version`,
    );
}

const nuspecVersion = (text: string): string | undefined => /<version>([^<]+)<\/version>/.exec(text)?.[1];

/** A release archive's VERSION_NUMBER file (onnxruntime-linux-x64-gpu-1.x/VERSION_NUMBER). */
const isVersionFile = (entry: string) => /^(\.\/)?([^/]+\/)?VERSION_NUMBER$/.test(entry);

async function extractZip(
  file: string,
  staging: string,
  ortVersion: string,
  o: InstallOptions,
): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (e) {
    throw new FormatError(
      'bad-archive',
      `runtime install: ${file} is not a readable zip (${(e as Error).message})`,
    );
  }
  try {
    const picked: { entry: yauzl.Entry; dest: string }[] = [];
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('.nuspec')) {
        // A NuGet package says its version: refuse one for another ONNX Runtime.
        const text = (await streamToBuffer(await zip.openReadStreamPromise(entry))).toString('utf8');
        checkVersion(file, nuspecVersion(text), ortVersion);
        continue;
      }
      // The first file for each place in the pack (as for a tgz).
      const dest = destFor(name);
      if (dest && !picked.some((p) => p.dest === dest)) picked.push({ entry, dest });
    }
    const total = picked.reduce((s, p) => s + p.entry.uncompressedSize, 0);
    await checkSpace(dirname(staging), total);
    let done = 0;
    for (const p of picked) {
      checkCancel(o.signal);
      const out = join(staging, p.dest);
      makeFolders(dirname(out));
      const rs = await zip.openReadStreamPromise(p.entry);
      rs.on('data', (c: Buffer) => {
        done += c.length;
        o.onProgress?.({ phase: 'extract', bytes: done, total });
      });
      await pipeline(rs, createWriteStream(out, { mode: 0o755 }), { signal: o.signal });
    }
  } finally {
    zip.close();
  }
}

/**
 * A gzipped tar, streamed through the unpacker: its progress is the share of the file read (the
 * entries' sizes are known only as they come), and Cancel stops the reading at once.
 */
async function extractTgz(file: string, staging: string, ortVersion: string, o: InstallOptions) {
  const tmp = join(staging, '.tgz');
  makeFolders(tmp);
  // Archive path of the file for each place in the pack: the first one, as for a zip.
  const picked = new Map<string, string>();
  let versionFile: string | null = null;
  const input = createReadStream(file, { signal: o.signal });
  const unpacker = tar.x({
    cwd: tmp,
    filter: (p, entry) => {
      if ('type' in entry && entry.type !== 'File' && entry.type !== 'SymbolicLink') return false;
      if (isVersionFile(p)) versionFile ??= p;
      const dest = destFor(p);
      if (dest && !picked.has(dest)) picked.set(dest, p);
      return picked.get(dest ?? '') === p || versionFile === p;
    },
    // An entry it could not write (a full disk) is only a warning to tar: here it ends the install.
    onwarn: (_code, _message, data) => {
      if (data instanceof Error && 'syscall' in data) input.destroy(data);
    },
  });
  const total = (await stat(file)).size;
  let read = 0;
  input.on('data', (c) => {
    read += c.length;
    o.onProgress?.({ phase: 'extract', bytes: read, total });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      unpacker.on('close', resolve);
      unpacker.on('error', reject);
      input.on('error', (e) => {
        unpacker.abort(e);
        reject(e);
      });
      input.pipe(unpacker);
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).syscall || o.signal?.aborted) throw e;
    throw new FormatError('bad-archive', `runtime install: cannot read ${file} (${(e as Error).message})`);
  }
  if (versionFile) checkVersion(file, (await readFile(join(tmp, versionFile), 'utf8')).trim(), ortVersion);
  for (const [dest, p] of picked) {
    makeFolders(dirname(join(staging, dest)));
    await rename(join(tmp, p), join(staging, dest));
  }
  await rm(tmp, { recursive: true, force: true });
}

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export { NUGET_PACKAGE };
