// The CUDA runtime pack: ONNX Runtime's CUDA execution provider, installed on demand into the data
// folder (runtime-install.ts) because onnxruntime-node does not ship it. This module knows where a
// pack lives, what it needs and how a process must start to use it; it never loads ONNX Runtime.
//
// How a process finds the pack without the user setting anything: ONNX Runtime loads a provider from
// the folder of the libonnxruntime.so.1 it runs from, and CUDA/cuDNN must be visible to the dynamic
// loader before the provider is loaded. So the pack holds a copy of the app's own libonnxruntime.so.1
// next to the provider libraries (runtimes/cuda/ort/), and processes that run the engine are started
// with LD_LIBRARY_PATH = the pack's ort/ and lib/ folders + the folders holding CUDA and cuDNN
// (engineEnv). onnxruntime-node's binding finds libonnxruntime.so.1 through RUNPATH=$ORIGIN, which
// LD_LIBRARY_PATH overrides, so the binding loads the pack's copy and the provider sits beside it.
// bin/reft-studio.js and electron/main.ts start the engine's process that way. Linux only for now.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sweepTempFiles } from '../formats/atomic-write.ts';
import { lockHolder } from '../pid-lock.ts';
import { readElfDynamic } from './elf.ts';
import {
  cudaLibraryDirs,
  type FoundLib,
  findLibraries,
  isSystemLibrary,
  type LibDir,
} from './system-libs.ts';

export const PROVIDER_LIBS = [
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
] as const;
export const ORT_LIB = 'libonnxruntime.so.1';
/** Set in the environment of a process started with engineEnv (stops the launcher re-starting it). */
export const LAUNCH_MARKER = 'REFT_STUDIO_ENGINE_ENV';

export interface PackManifest {
  name: string;
  /** The onnxruntime-node version whose libonnxruntime.so.1 the pack copied; must match the app's. */
  ortVersion: string;
  installedAt: string;
  source: { kind: 'nuget' | 'archive' | 'folder'; location: string; sha512?: string };
  files: { path: string; bytes: number; sha256: string }[];
  /** Libraries the CUDA provider needs beyond the system's (from its ELF header), e.g. libcudnn.so.9. */
  needs: string[];
  /** The CUDA major version the provider was built for (from the libcudart/libcublas it needs). */
  cudaMajor: number | null;
}

export interface MissingLib {
  name: string;
  hint: string;
  /** false: the provider loads without it (cuDNN, which it opens at run time for some ops only). */
  required: boolean;
}

export interface PackStatus {
  name: string;
  dir: string;
  manifest: PackManifest;
  /** The pack matches the app's ONNX Runtime version. */
  versionOk: boolean;
  libraries: FoundLib[];
  missing: MissingLib[];
  /** Everything the provider needs is present (a driver and a GPU are checked by devices.ts). */
  ready: boolean;
  /** This process runs ONNX Runtime from the pack (it was started with engineEnv). */
  active: boolean;
  problems: string[];
}

const require = createRequire(import.meta.url);

/** The app's onnxruntime-node: version and the folder holding its native binaries. */
export function ortPackage(): { version: string; binDir: string } {
  const pkgPath = require.resolve('onnxruntime-node/package.json');
  const version = JSON.parse(readFileSync(pkgPath, 'utf8')).version as string;
  // In a packaged app the native files are unpacked beside the asar.
  const root = dirname(pkgPath).replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
  return { version, binDir: join(root, 'bin', 'napi-v6', process.platform, process.arch) };
}

export const runtimesDir = (dataDir: string): string => join(dataDir, 'runtimes');
export const packDir = (dataDir: string, name = 'cuda'): string => join(runtimesDir(dataDir), name);
/** Held while a pack is installed or removed (runtime-install.ts); names the process doing it. */
export const runtimesLock = (dataDir: string): string => join(runtimesDir(dataDir), '.lock');

/**
 * Cleans up after killed installs and removals (runtime-install.ts names its folders as
 * atomic-write.ts does): a pack an install had moved aside when it died is put back, leftover
 * temporary folders are deleted. Run before a pack is looked for, so none is missed. Not while
 * an install or removal runs: its folders are in use (a pack it moved aside keeps its old mtime,
 * and would be put back under the install's feet).
 */
export function sweepRuntimes(dataDir: string): void {
  if (lockHolder(runtimesLock(dataDir))) return;
  try {
    sweepTempFiles(runtimesDir(dataDir));
  } catch {}
}

/** The pack's manifest, or null when there is none or it is not one (edited by hand, another app's). */
export function readManifest(dir: string): PackManifest | null {
  let m: Partial<PackManifest>;
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  const strings = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string');
  const ok =
    typeof m === 'object' &&
    m !== null &&
    typeof m.ortVersion === 'string' &&
    strings(m.needs) &&
    Array.isArray(m.files) &&
    m.files.every((f) => typeof f?.path === 'string' && typeof f.bytes === 'number') &&
    typeof m.source?.location === 'string' &&
    (m.cudaMajor === null || typeof m.cudaMajor === 'number');
  return ok ? (m as PackManifest) : null;
}

/** The libonnxruntime.so.1 this process has loaded (from /proc/self/maps), or null. */
export function loadedOrtLibrary(): string | null {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const m = /\s(\/\S*\/libonnxruntime\.so\.1)\s*$/m.exec(maps);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/** What the CUDA provider needs (ELF DT_NEEDED minus the system's and ORT's own), and its CUDA major. */
export function providerNeeds(providerPath: string): { needs: string[]; cudaMajor: number | null } {
  const needs = readElfDynamic(providerPath).needed.filter(
    (n) => !isSystemLibrary(n) && !n.startsWith('libonnxruntime'),
  );
  const major = needs.map((n) => /^lib(?:cudart|cublas|cublasLt)\.so\.(\d+)/.exec(n)?.[1]).find(Boolean);
  return { needs, cudaMajor: major ? Number(major) : null };
}

/** Where to get each missing library, by family. */
export function hintFor(lib: string, cudaMajor: number | null): string {
  const cu = cudaMajor ? `CUDA ${cudaMajor}` : 'CUDA';
  if (/^libcuda\.so/.test(lib))
    return `the NVIDIA driver (libcuda.so.1 comes with it${cudaMajor ? `; ${cu} needs driver ${cudaMajor >= 13 ? '580' : '525'} or newer` : ''}): https://www.nvidia.com/drivers`;
  const wheel = (pkg: string) =>
    cudaMajor && cudaMajor >= 13
      ? `pip install nvidia-${pkg}`
      : `pip install nvidia-${pkg}-cu${cudaMajor ?? 12}`;
  if (/^libcudnn/.test(lib))
    return `cuDNN 9 for ${cu}: https://developer.nvidia.com/cudnn-downloads (or \`${wheel('cudnn')}\`)`;
  // Each family by its own name (all are in the CUDA toolkit download) and its pip wheel.
  const family: [RegExp, string, string][] = [
    [/^libcudart/, `the ${cu} runtime`, 'cuda-runtime'],
    [/^libcublas/, `cuBLAS for ${cu}`, 'cublas'],
    [/^libcufft/, `cuFFT for ${cu}`, 'cufft'],
    [/^libcurand/, `cuRAND for ${cu}`, 'curand'],
    [/^libnvrtc/, `NVRTC for ${cu}`, 'cuda-nvrtc'],
  ];
  const [, name, pkg] = family.find(([re]) => re.test(lib)) ?? [null, `the ${cu} runtime libraries`, null];
  return `${name}: https://developer.nvidia.com/cuda-downloads${pkg ? ` (or \`${wheel(pkg)}\`)` : ''}`;
}

function packLibDirs(dir: string): LibDir[] {
  return [
    { dir: join(dir, 'ort'), source: 'pack' },
    { dir: join(dir, 'lib'), source: 'pack' },
  ];
}

export function packStatus(
  dataDir: string,
  name = 'cuda',
  env: NodeJS.ProcessEnv = process.env,
): PackStatus | null {
  const dir = packDir(dataDir, name);
  const manifest = readManifest(dir);
  if (!manifest) return null;
  const problems: string[] = [];
  const ort = ortPackage();
  const versionOk = manifest.ortVersion === ort.version;
  if (!versionOk)
    problems.push(
      `the pack was installed for ONNX Runtime ${manifest.ortVersion}, the app runs ${ort.version}: run \`reft-studio runtime install ${name}\` again`,
    );
  for (const f of [ORT_LIB, ...PROVIDER_LIBS])
    if (!existsSync(join(dir, 'ort', f)))
      problems.push(`${join(dir, 'ort', f)} is missing: reinstall the pack`);
  // cuDNN 9 is not in the provider's DT_NEEDED (it is opened at run time) but convolution-free graphs
  // like ours may still touch it: look for it, and say so when it is missing, without blocking.
  const optional = manifest.needs.some((n) => n.startsWith('libcudnn')) ? [] : ['libcudnn.so.9'];
  const libraries = findLibraries([...manifest.needs, ...optional], cudaLibraryDirs(env, packLibDirs(dir)));
  const missing = libraries
    .filter((l) => !l.path)
    .map((l) => ({
      name: l.name,
      hint: hintFor(l.name, manifest.cudaMajor),
      required: !optional.includes(l.name),
    }));
  const loaded = loadedOrtLibrary();
  return {
    name,
    dir,
    manifest,
    versionOk,
    libraries,
    missing,
    ready: versionOk && problems.length === 0 && !missing.some((m) => m.required),
    active: loaded === join(dir, 'ort', ORT_LIB),
    problems,
  };
}

export function listPacks(dataDir: string, env: NodeJS.ProcessEnv = process.env): PackStatus[] {
  sweepRuntimes(dataDir);
  let names: string[] = [];
  try {
    names = readdirSync(runtimesDir(dataDir)).filter((n) => !n.startsWith('.') && n !== 'downloads');
  } catch {}
  return names.map((n) => packStatus(dataDir, n, env)).filter((s): s is PackStatus => !!s);
}

/**
 * The environment an engine process must start with to use the CUDA pack, or null when there is no
 * usable pack (or the environment already has it). LD_LIBRARY_PATH gets the pack's ort/ and lib/
 * folders first, then every folder holding a library the provider needs that ldconfig does not know.
 */
export function engineEnv(dataDir: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv | null {
  if (process.platform !== 'linux' || env[LAUNCH_MARKER]) return null;
  sweepRuntimes(dataDir);
  const dir = packDir(dataDir, 'cuda');
  const manifest = readManifest(dir);
  if (!manifest || manifest.ortVersion !== ortPackage().version || !existsSync(join(dir, 'ort', ORT_LIB)))
    return null;
  const found = findLibraries(manifest.needs, cudaLibraryDirs(env, packLibDirs(dir)));
  const dirs = [join(dir, 'ort')];
  if (existsSync(join(dir, 'lib'))) dirs.push(join(dir, 'lib'));
  for (const f of found)
    if (f.path && f.source !== 'ldconfig' && f.source !== 'LD_LIBRARY_PATH') dirs.push(dirname(f.path));
  const current = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const path = [...new Set([...dirs, ...current])].join(':');
  return { ...env, LD_LIBRARY_PATH: path, [LAUNCH_MARKER]: dir };
}
