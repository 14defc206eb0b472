// How many threads ONNX Runtime's CPU kernels get in each session (intra-op threads).
// Left at 0, ORT counts physical cores itself from CPUID, and on virtual machines that can be wrong:
// on a 2-core AMD EPYC VM (the kernel: 2 cores, 1 thread each) it counts one core and runs every
// graph on one thread, half the speed (TinyLlama-shaped training 37.8 → 76.1 tok/s with 2 threads,
// measured one after the other). On Linux we count the cores the kernel reports for the CPUs this
// process may run on, capped by the container's CPU quota (cgroup v2 or v1); elsewhere ORT's own count stands.
// REFT_STUDIO_THREADS (the Settings page's "threads") overrides both.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Where the kernel's files are read from (tests point this at a folder of their own). */
export interface CpuFiles {
  /** Default /sys/devices/system/cpu. */
  sysCpu?: string;
  /** Default /proc/self/status. */
  procStatus?: string;
  /** Default /proc/self/cgroup. */
  procCgroup?: string;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

/** "0-3,8,10-11" (a kernel CPU list) → [0, 1, 2, 3, 8, 10, 11]; null if malformed. */
export function parseCpuList(list: string): number[] | null {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) return null;
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Physical cores among the CPUs this process may run on, capped by the cgroup's CPU quota rounded up;
 * null where the files are missing or unreadable. A core is the set of CPUs that are its hardware
 * threads (topology/core_cpus_list, thread_siblings_list on kernels before 5.7): package and core ids
 * alone repeat across an ARM chip's clusters on some kernels.
 */
export function linuxCores(files: CpuFiles = {}): number | null {
  const sysCpu = files.sysCpu ?? '/sys/devices/system/cpu';
  const status = read(files.procStatus ?? '/proc/self/status');
  const allowed = status && /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  const cpus = allowed ? parseCpuList(allowed) : null;
  if (!cpus?.length) return null;
  const cores = new Set<string>();
  for (const c of cpus) {
    const topology = `${sysCpu}/cpu${c}/topology`;
    const siblings = read(`${topology}/core_cpus_list`) ?? read(`${topology}/thread_siblings_list`);
    // An allowed CPU that is offline has no topology folder: it runs nothing.
    if (siblings !== null) cores.add(siblings.trim());
  }
  if (cores.size === 0) return null;
  const quota = cpuQuota(files);
  return quota === null ? cores.size : Math.min(cores.size, Math.ceil(quota));
}

/** "a/b/c" → ["a/b/c", "a/b", "a", ""]: a cgroup and the ones above it, whose limits apply too. */
function selfAndParents(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/')).concat('');
}

/**
 * The CPU time this process's cgroup and those above it allow, in CPUs (a container's `--cpus`), or
 * null without a limit: cgroup v2's cpu.max ("max 100000" or "150000 100000"), v1's
 * cpu.cfs_quota_us / cpu.cfs_period_us (quota -1: none).
 */
export function cpuQuota(files: CpuFiles = {}): number | null {
  const root = files.cgroupRoot ?? '/sys/fs/cgroup';
  const limits: number[] = [];
  for (const line of (read(files.procCgroup ?? '/proc/self/cgroup') ?? '').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const v2 = m[1] === '';
    const v1 = m[1].split(',').includes('cpu');
    if (!v2 && !v1) continue;
    for (const dir of selfAndParents(m[2])) {
      if (v2) {
        const [q, period] = (read(`${root}/${dir}/cpu.max`) ?? 'max').trim().split(/\s+/);
        if (q !== 'max') limits.push(Number(q) / Number(period));
      } else {
        // v1's cpu controller is mounted as cpu or cpu,cpuacct.
        for (const mount of ['cpu', 'cpu,cpuacct']) {
          const q = Number(read(`${root}/${mount}/${dir}/cpu.cfs_quota_us`));
          const period = Number(read(`${root}/${mount}/${dir}/cpu.cfs_period_us`));
          if (q > 0 && period > 0) limits.push(q / period);
        }
      }
    }
  }
  const ok = limits.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length ? Math.min(...ok) : null;
}

/** REFT_STUDIO_THREADS when set to a whole number ≥ 1, else null. */
function threadsFromEnv(): number | null {
  const n = Number(process.env.REFT_STUDIO_THREADS);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** What "automatic" means here: the cores counted on Linux (never more than the CPUs Node may use), else null (ORT counts). */
export function automaticThreads(): number | null {
  if (process.platform !== 'linux') return null;
  const cores = linuxCores();
  return cores === null ? null : Math.min(cores, availableParallelism());
}

/** Where a session's thread count comes from: the setting, the cores counted here, or ORT (0). */
export interface ThreadChoice {
  threads: number;
  from: 'REFT_STUDIO_THREADS' | 'cores' | 'onnxruntime';
}

export function threadChoice(): ThreadChoice {
  const set = threadsFromEnv();
  if (set !== null) return { threads: set, from: 'REFT_STUDIO_THREADS' };
  const auto = automaticThreads();
  return auto === null ? { threads: 0, from: 'onnxruntime' } : { threads: auto, from: 'cores' };
}

/**
 * The intra-op thread count a new session gets: REFT_STUDIO_THREADS, else automaticThreads(), else 0
 * (ORT counts). Read per session: Settings apply to models loaded from then on.
 */
export function intraOpThreads(): number {
  return threadChoice().threads;
}
