// Where the dynamic loader (and the studio) can find shared libraries such as CUDA's and cuDNN's:
// LD_LIBRARY_PATH, the ldconfig cache, the CUDA toolkit's usual folders and the `nvidia-*` Python
// wheels (PyTorch installs CUDA and cuDNN that way, under site-packages/nvidia/*/lib). Linux only;
// elsewhere every lookup comes back empty.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface LibDir {
  dir: string;
  /** How the folder was found: 'LD_LIBRARY_PATH', 'ldconfig', 'cuda-toolkit', 'python:nvidia', 'pack'. */
  source: string;
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

let ldconfigCache: Map<string, string> | null = null;

/** The ldconfig cache as soname → path (x86-64 entries; empty when ldconfig is unavailable). */
export function ldconfigLibraries(): Map<string, string> {
  if (ldconfigCache) return ldconfigCache;
  const map = new Map<string, string>();
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const out = execFileSync(bin, ['-p'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      });
      for (const line of out.split('\n')) {
        const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
        if (m && (m[2].includes('x86-64') || process.arch !== 'x64') && !map.has(m[1])) map.set(m[1], m[3]);
      }
      break;
    } catch {}
  }
  ldconfigCache = map;
  return map;
}

/** site-packages folders of the Python environments a user is likely to have. */
function sitePackages(env: NodeJS.ProcessEnv): string[] {
  const roots = [
    env.VIRTUAL_ENV,
    env.CONDA_PREFIX,
    join(homedir(), '.local'),
    '/usr/local',
    '/usr',
    '/opt/conda',
  ].filter((r): r is string => !!r);
  const out: string[] = [];
  for (const root of roots) {
    const lib = join(root, 'lib');
    for (const py of ls(lib).filter((n) => /^python3(\.\d+)?$/.test(n)))
      for (const sp of ['site-packages', 'dist-packages']) {
        const d = join(lib, py, sp);
        if (existsSync(join(d, 'nvidia'))) out.push(d);
      }
  }
  return out;
}

/**
 * Folders worth searching for CUDA/cuDNN libraries, most specific first: the caller's extra folders,
 * LD_LIBRARY_PATH, the CUDA toolkit, the nvidia Python wheels, conda's lib.
 */
export function cudaLibraryDirs(env: NodeJS.ProcessEnv = process.env, extra: LibDir[] = []): LibDir[] {
  const dirs: LibDir[] = [...extra];
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean))
    dirs.push({ dir: d, source: 'LD_LIBRARY_PATH' });
  const toolkits = [
    env.CUDA_HOME,
    env.CUDA_PATH,
    '/usr/local/cuda',
    ...ls('/usr/local')
      .filter((n) => /^cuda-\d/.test(n))
      .map((n) => join('/usr/local', n)),
  ];
  for (const t of toolkits.filter((t): t is string => !!t))
    for (const sub of ['lib64', 'targets/x86_64-linux/lib'])
      dirs.push({ dir: join(t, sub), source: 'cuda-toolkit' });
  for (const sp of sitePackages(env)) {
    const nv = join(sp, 'nvidia');
    for (const pkg of ls(nv)) {
      dirs.push({ dir: join(nv, pkg, 'lib'), source: 'python:nvidia' });
      // CUDA 13 wheels put every library under nvidia/cu13/lib
      dirs.push({ dir: join(nv, pkg, 'lib64'), source: 'python:nvidia' });
    }
  }
  if (env.CONDA_PREFIX) dirs.push({ dir: join(env.CONDA_PREFIX, 'lib'), source: 'conda' });
  const seen = new Set<string>();
  return dirs.filter((d) => !seen.has(d.dir) && seen.add(d.dir) && existsSync(d.dir));
}

export interface FoundLib {
  name: string;
  path: string | null;
  source: string | null;
}

/**
 * Finds each soname in `dirs`, then in the ldconfig cache. A library found only in `dirs` (not by
 * ldconfig) needs its folder on LD_LIBRARY_PATH for the loader to see it.
 */
export function findLibraries(names: string[], dirs: LibDir[]): FoundLib[] {
  return names.map((name) => {
    for (const d of dirs) {
      const p = join(d.dir, name);
      if (existsSync(p)) return { name, path: p, source: d.source };
    }
    const cached = ldconfigLibraries().get(name);
    return cached ? { name, path: cached, source: 'ldconfig' } : { name, path: null, source: null };
  });
}

/** Libraries every Linux system has (glibc, the C++ runtime): never worth reporting. */
export function isSystemLibrary(soname: string): boolean {
  return /^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[-\w]*|libz)\.so/.test(soname);
}
