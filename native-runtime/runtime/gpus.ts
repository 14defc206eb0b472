// What graphics hardware and drivers the machine has, found without loading any GPU library:
// NVIDIA GPUs through `nvidia-smi` (or the kernel driver's /proc files when the tool is missing),
// Vulkan drivers (ICD manifests) for the WebGPU provider on Linux, and a sampler of a GPU's used
// memory for the benchmarks. Every probe has a short timeout and turns failure into a reason.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { clippedLine } from '../control-characters.ts';
import { ldconfigLibraries } from './system-libs.ts';

const run = promisify(execFile);

/** What a tool printed; on failure also its error (`code` ENOENT: not found; `killed`: timed out). */
type ToolError = NodeJS.ErrnoException & { stdout?: string; stderr?: string; killed?: boolean };

// A tool started in its own process group (POSIX) can be ended with everything it started.
const OWN_GROUP = process.platform !== 'win32';

/** Ends a child spawned with `detached: OWN_GROUP`, the processes it started included. */
function endProcessGroup(child: ChildProcess): void {
  try {
    if (OWN_GROUP && child.pid) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Runs `file` like execFile, except that a timeout ends its whole process group (on POSIX): a
 * wrapper script that hangs (nvidia-smi is one on some systems) leaves no child running behind it.
 */
function runTool(
  file: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      detached: OWN_GROUP,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      // A tool that never stops printing is cut off, as execFile's maxBuffer does.
      if (stdout.length > 1 << 20) {
        endProcessGroup(child);
        stdout = ''; // the error says what happened, not the flood
        fail(new Error(`${file} printed more than 1 MiB`));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    // Out of the terminal's process group, Ctrl-C no longer reaches it: it ends when this process does.
    const atExit = () => endProcessGroup(child);
    process.once('exit', atExit);
    const fail = (e: ToolError) => {
      process.off('exit', atExit);
      reject(Object.assign(e, { stdout, stderr }));
    };
    const timer = setTimeout(() => {
      endProcessGroup(child);
      fail(Object.assign(new Error(`${file} timed out`), { killed: true }));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', atExit);
      if (code === 0) resolve({ stdout, stderr });
      else fail(new Error(`${file} exited with ${signal ?? `status ${code}`}`));
    });
  });
}

export interface GpuInfo {
  vendor: 'nvidia';
  index: number;
  name: string;
  memoryMb: number | null;
  /** CUDA compute capability, e.g. "8.9"; null where the driver does not tell (before ~510). */
  computeCapability: string | null;
}

export interface NvidiaInfo {
  /** The kernel driver is loaded (or nvidia-smi answered). */
  driverLoaded: boolean;
  driverVersion: string | null;
  /** The newest CUDA version the driver supports ("CUDA Version" in nvidia-smi), e.g. "13.0". */
  driverCudaVersion: string | null;
  gpus: GpuInfo[];
  /** Where the facts came from, or why there are none. */
  source: 'nvidia-smi' | 'proc' | 'none';
  note: string | null;
}

export interface NvidiaProbeOptions {
  /** The nvidia-smi executable (tests point this at a fake). */
  smi?: string;
  /** /proc/driver/nvidia (tests point this at a fake folder). */
  procDir?: string;
  /** How long nvidia-smi may take to answer (default 10 s). */
  timeoutMs?: number;
}

// nvidia-smi's answer, asked once per process: memory and compute capability read the same one.
let nvidia: Promise<NvidiaInfo | null> | null = null;

/**
 * The NVIDIA GPU numbered `index` (nvidia-smi's numbering; gpu-choice.ts says which one CUDA
 * sessions use), or null; `probe`, for tests, asks again with a stand-in nvidia-smi.
 */
function nvidiaGpu(probe: NvidiaProbeOptions | undefined, index: number): Promise<GpuInfo | null> {
  let info: Promise<NvidiaInfo | null>;
  if (probe) info = detectNvidia(probe).catch(() => null);
  else {
    nvidia ??= detectNvidia().catch(() => null);
    info = nvidia;
  }
  return info.then((n) => n?.gpus.find((g) => g.index === index) ?? null);
}

/** Total memory of the NVIDIA GPU numbered `index` in bytes, or null (see nvidiaGpu). */
export async function cudaDeviceMemoryBytes(probe?: NvidiaProbeOptions, index = 0): Promise<number | null> {
  const mb = (await nvidiaGpu(probe, index))?.memoryMb;
  return mb ? mb * 2 ** 20 : null;
}

/** The compute capability of the NVIDIA GPU numbered `index`, e.g. "7.5", or null where unknown. */
export async function cudaComputeCapability(probe?: NvidiaProbeOptions, index = 0): Promise<string | null> {
  return (await nvidiaGpu(probe, index))?.computeCapability ?? null;
}

// What a compute capability means for bfloat16 (compute-capability.ts), for this module's importers.
export { computeLabel, hasBf16Kernels } from './compute-capability.ts';

/**
 * The largest dedicated memory of an AMD (or other amdgpu-driven) GPU in bytes, from the kernel's
 * `mem_info_vram_total` (Linux), or null. `drmDir` is for tests.
 */
export function amdVramBytes(drmDir = '/sys/class/drm'): number | null {
  let best: number | null = null;
  try {
    for (const card of readdirSync(drmDir)) {
      if (!/^card\d+$/.test(card)) continue;
      try {
        const v = Number(readFileSync(join(drmDir, card, 'device', 'mem_info_vram_total'), 'utf8').trim());
        if (Number.isFinite(v) && v > 0) best = Math.max(best ?? 0, v);
      } catch {
        // Not an amdgpu card (Intel, NVIDIA and virtual cards have no such file).
      }
    }
  } catch {
    return null;
  }
  return best;
}

// Windows keeps each display adapter's dedicated memory in its driver's registry key (the Display
// class); a 64-bit value since Windows 10 (WMI's AdapterRAM stops at 4 GB).
const DISPLAY_CLASS_KEY =
  'HKLM\\SYSTEM\\CurrentControlSet\\Control\\Class\\{4d36e968-e325-11ce-bfc1-08002be10318}';
/** Below this, an adapter's dedicated memory is an integrated GPU's reserve: it computes in the computer's. */
const DISCRETE_MIN_BYTES = 2 * 2 ** 30;

/**
 * The largest dedicated memory among display adapters in `reg query … /v
 * HardwareInformation.qwMemorySize` output, or null when none has a discrete GPU's (≥ 2 GiB).
 */
export function parseRegistryGpuMemory(out: string): number | null {
  let best: number | null = null;
  for (const m of out.matchAll(/HardwareInformation\.qwMemorySize\s+REG_QWORD\s+0x([0-9a-f]+)/gi)) {
    const v = Number.parseInt(m[1], 16);
    if (v >= DISCRETE_MIN_BYTES) best = Math.max(best ?? 0, v);
  }
  return best;
}

let windowsGpuMemory: Promise<number | null> | null = null;

/**
 * A discrete GPU's dedicated memory on Windows (AMD, Intel Arc, NVIDIA alike), or null; asked once
 * per process (`reg`, for tests, asks again with a stand-in).
 */
export function windowsGpuMemoryBytes(reg?: string): Promise<number | null> {
  const ask = () =>
    run(reg ?? 'reg', ['query', DISPLAY_CLASS_KEY, '/s', '/v', 'HardwareInformation.qwMemorySize'], {
      timeout: 5_000,
      windowsHide: true,
    }).then(
      (q) => parseRegistryGpuMemory(q.stdout),
      () => null,
    );
  if (reg) return ask();
  windowsGpuMemory ??= ask();
  return windowsGpuMemory;
}

/**
 * The memory of the GPU a WebGPU session runs on, as far as the machine tells without a GPU API:
 * the first NVIDIA GPU's (nvidia-smi, on Windows too; WebGPU picks its adapter itself), an AMD
 * GPU's (Linux sysfs) or a discrete GPU's on Windows (the registry), else null — where the
 * caller counts the computer's memory (right for Apple's unified memory, integrated GPUs and a CPU
 * adapter). `platform` and `reg` are for tests.
 */
export async function webgpuDeviceMemoryBytes(
  o: { nvidia?: NvidiaProbeOptions; drmDir?: string; platform?: NodeJS.Platform; reg?: string } = {},
): Promise<number | null> {
  const platform = o.platform ?? process.platform;
  return (
    (await cudaDeviceMemoryBytes(o.nvidia)) ??
    (platform === 'linux'
      ? amdVramBytes(o.drmDir)
      : platform === 'win32'
        ? await windowsGpuMemoryBytes(o.reg)
        : null)
  );
}

/**
 * The memory a WebGPU run lives in, as the engine's memory decisions weigh it (automatic base
 * weights, layer replay, the run estimate): webgpuDeviceMemoryBytes, else `computer` (the
 * computer's memory).
 */
export async function webgpuRunMemoryBytes(computer = totalmem()): Promise<number> {
  return (await webgpuDeviceMemoryBytes()) ?? computer;
}

/**
 * Why CUDA cannot run for want of an NVIDIA driver or GPU, in `reft-studio devices`' words, else null.
 * Said before anything about the CUDA runtime pack: installing the pack cannot help such a machine.
 */
export const noNvidiaGpu = (n: Pick<NvidiaInfo, 'driverLoaded' | 'note'>): string | null =>
  n.driverLoaded ? null : `no NVIDIA GPU: ${n.note}`;

export async function detectNvidia(o: NvidiaProbeOptions = {}): Promise<NvidiaInfo> {
  const smi = o.smi ?? 'nvidia-smi';
  const procDir = o.procDir ?? '/proc/driver/nvidia';
  const timeout = o.timeoutMs ?? 10_000;
  try {
    // compute_cap is a field of drivers from ~510 on; older ones refuse the whole query with it.
    const fields = 'index,name,memory.total,driver_version';
    const query = (f: string) => runTool(smi, [`--query-gpu=${f}`, '--format=csv,noheader,nounits'], timeout);
    // A hung nvidia-smi is not asked twice.
    const asked = await query(`${fields},compute_cap`).catch((e) => {
      if ((e as { killed?: boolean }).killed) throw e;
      return query(fields);
    });
    // Some refuse the field with exit status 0, the refusal printed instead of the rows.
    const q = /not a valid field/i.test(asked.stdout + asked.stderr) ? await query(fields) : asked;
    const gpus: GpuInfo[] = [];
    let driverVersion: string | null = null;
    const lines = q.stdout.split('\n').filter((l) => l.trim());
    for (const line of lines) {
      const [idx, name, mem, drv, cap] = line.split(',').map((s) => s.trim());
      // Only rows of the asked form: a message printed with exit status 0 is not a GPU.
      if (!/^\d+$/.test(idx ?? '') || !name) continue;
      const m = Number(mem);
      gpus.push({
        vendor: 'nvidia',
        index: Number(idx),
        name,
        memoryMb: Number.isFinite(m) ? m : null,
        computeCapability: cap && /^\d+\.\d+$/.test(cap) ? cap : null,
      });
      driverVersion ??= drv || null;
    }
    if (lines.length && !gpus.length) throw new Error(`unreadable answer: ${clippedLine(lines[0].trim())}`);
    // The supported CUDA version appears only in the human-readable header.
    let driverCudaVersion: string | null = null;
    try {
      const h = await runTool(smi, [], timeout);
      driverCudaVersion = /CUDA Version:\s*([\d.]+)/.exec(h.stdout)?.[1] ?? null;
    } catch {}
    return { driverLoaded: true, driverVersion, driverCudaVersion, gpus, source: 'nvidia-smi', note: null };
  } catch (e) {
    const err = e as ToolError;
    const smiNote =
      err.code === 'ENOENT'
        ? 'nvidia-smi not found'
        : err.killed
          ? `nvidia-smi hung (no answer within ${timeout / 1000} s)`
          : `nvidia-smi failed: ${clippedLine((err.stdout || err.stderr || err.message).trim().split('\n')[0])}`;
    // Without the tool, the kernel driver's own files still tell whether a driver and GPUs exist.
    const version = readOr(join(procDir, 'version'));
    if (version === null)
      return {
        driverLoaded: false,
        driverVersion: null,
        driverCudaVersion: null,
        gpus: [],
        source: 'none',
        note: `no NVIDIA driver loaded (${smiNote}; ${procDir} absent)`,
      };
    const driverVersion = /Kernel Module\s+([\d.]+)/.exec(version)?.[1] ?? null;
    const gpus: GpuInfo[] = [];
    const gpuDir = join(procDir, 'gpus');
    (existsSync(gpuDir) ? readdirSync(gpuDir) : []).sort().forEach((bus, index) => {
      const info = readOr(join(gpuDir, bus, 'information')) ?? '';
      const name = /Model:\s*(.+)/.exec(info)?.[1]?.trim() ?? `NVIDIA GPU ${bus}`;
      gpus.push({ vendor: 'nvidia', index, name, memoryMb: null, computeCapability: null });
    });
    return {
      driverLoaded: true,
      driverVersion,
      driverCudaVersion: null,
      gpus,
      source: 'proc',
      note: smiNote,
    };
  }
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** GPUs the kernel exposes as render nodes (any vendor), e.g. ["renderD128 (0x10de)"]. */
export function renderNodes(): string[] {
  if (process.platform !== 'linux') return [];
  try {
    return readdirSync('/sys/class/drm')
      .filter((n) => /^renderD\d+$/.test(n))
      .map((n) => {
        let vendor = '';
        try {
          vendor = readFileSync(`/sys/class/drm/${n}/device/vendor`, 'utf8').trim();
        } catch {}
        return vendor ? `${n} (${vendor})` : n;
      });
  } catch {
    return existsSync('/dev/dri') ? readdirSync('/dev/dri').filter((n) => n.startsWith('renderD')) : [];
  }
}

export interface VulkanDriver {
  file: string;
  library: string;
  /** A CPU implementation (Mesa's lavapipe/llvmpipe, SwiftShader): WebGPU works but is slow. */
  software: boolean;
}

export interface VulkanInfo {
  /** libvulkan.so.1, which Dawn (the WebGPU provider) loads. */
  loader: string | null;
  drivers: VulkanDriver[];
}

const ICD_DIRS = [
  '/etc/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/share/vulkan/icd.d',
  '/usr/local/nvidia/share/vulkan/icd.d',
];

/** Vulkan's loader and driver manifests, as the loader would find them (VK_DRIVER_FILES honoured). */
export function detectVulkan(env: NodeJS.ProcessEnv = process.env): VulkanInfo {
  if (process.platform !== 'linux') return { loader: null, drivers: [] };
  const loader =
    ldconfigLibraries().get('libvulkan.so.1') ??
    ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].find(
      (p) => existsSync(p),
    ) ??
    null;
  const explicit = (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || '').split(':').filter(Boolean);
  const files = explicit.length
    ? explicit
    : ICD_DIRS.flatMap((d) => {
        try {
          return readdirSync(d)
            .filter((f) => f.endsWith('.json'))
            .map((f) => join(d, f));
        } catch {
          return [];
        }
      });
  const drivers: VulkanDriver[] = [];
  for (const file of files) {
    let library = '';
    try {
      library = JSON.parse(readFileSync(file, 'utf8')).ICD?.library_path ?? '';
    } catch {
      continue;
    }
    const name = basename(library || file);
    drivers.push({ file, library, software: /lvp|llvmpipe|swiftshader/i.test(name) });
  }
  return { loader, drivers };
}

/**
 * Samples one GPU's used memory with `nvidia-smi -lms` in a child process, so it keeps sampling while
 * ONNX Runtime blocks this thread. peakMb() is the highest reading minus the reading at start.
 */
export class GpuMemorySampler {
  #child: ChildProcess | null = null;
  #failed = false;
  #readings: number[] = [];
  #buf = '';

  constructor(
    readonly index = 0,
    readonly smi = 'nvidia-smi',
  ) {}

  start(intervalMs = 50): boolean {
    try {
      const c = spawn(
        this.smi,
        [
          '-i',
          String(this.index),
          '--query-gpu=memory.used',
          '--format=csv,noheader,nounits',
          `-lms`,
          String(intervalMs),
        ],
        // Its own process group: a wrapper script's children end with it (stop()).
        { stdio: ['ignore', 'pipe', 'ignore'], detached: OWN_GROUP },
      );
      c.on('error', () => {
        this.#failed = true; // no nvidia-smi: no readings
      });
      c.stdout?.setEncoding('utf8').on('data', (s: string) => {
        this.#buf += s;
        const lines = this.#buf.split('\n');
        this.#buf = lines.pop() ?? '';
        for (const l of lines) {
          const v = Number(l.trim());
          if (Number.isFinite(v) && l.trim()) this.#readings.push(v);
        }
      });
      this.#child = c;
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for the first reading (the baseline) so later growth is measured against it. */
  async ready(timeoutMs = 5000): Promise<boolean> {
    const t0 = Date.now();
    while (!this.#readings.length && !this.#failed && Date.now() - t0 < timeoutMs)
      await new Promise((r) => setTimeout(r, 20));
    return this.#readings.length > 0;
  }

  /** Stops sampling; null when no reading came. */
  async stop(): Promise<{ peakMb: number; baselineMb: number; peakUsedMb: number } | null> {
    // Let the child print what it measured while this thread was blocked.
    await new Promise((r) => setTimeout(r, 150));
    if (this.#child) endProcessGroup(this.#child);
    this.#child = null;
    if (!this.#readings.length) return null;
    const baselineMb = this.#readings[0];
    const peakUsedMb = Math.max(...this.#readings);
    return { peakMb: peakUsedMb - baselineMb, baselineMb, peakUsedMb };
  }
}
