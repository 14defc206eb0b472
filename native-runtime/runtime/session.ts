// ONNX Runtime sessions for graphs built by the engine: serialize the IR in memory, point ORT at the
// folder holding the external weights, choose an execution provider.
// Provider choice: 'auto' takes CUDA when this process runs ONNX Runtime from the CUDA pack (or with
// the providers beside it), then WebGPU on a GPU (not a CPU adapter: webgpu-adapter.ts), else the
// CPU; a session opened on a CPU adapter because WebGPU was named says so (onNotice). A requested
// provider that cannot start falls back to the CPU with ONE clear line (onNotice, and `fallback` on
// the session) instead of ORT's raw log; WebGPU is probed in a child process first
// (provider-probe.ts) because Dawn prints its own warnings to stderr when it refuses a device.
// `requireDevice` turns the fallback into an error. REFT_STUDIO_DEVICE sets the device of callers
// that name none and REFT_STUDIO_REQUIRE_DEVICE=1 requires it: that is how the golden and gradient
// tests run unchanged on a GPU (scripts/gpu-check.sh).
// ORT's create/run are synchronous native calls: callers run the engine off any interactive event loop.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { OrtError } from '../errors.ts';
import { encodeModel } from '../formats/onnx.ts';
import type { Graph } from '../ir/graph.ts';
import type { Notify } from '../notices.ts';
import { intraOpThreads } from './cpu-threads.ts';
import { LAUNCH_MARKER, loadedOrtLibrary, ortPackage } from './cuda-pack.ts';
import { type DeviceChoice, type DeviceUsed, fallbackLine } from './device-choice.ts';
import { alignCudaNumbering, gpuChoice, gpuChoiceProblem, machineNvidia } from './gpu-choice.ts';
import { type NvidiaInfo, noNvidiaGpu } from './gpus.ts';
import { describeOutOfMemory } from './out-of-memory.ts';
import { explainFailure, probeProvider } from './provider-probe.ts';
import { softwareAdapterLine, webgpuAdapter, webgpuOnGpu } from './webgpu-adapter.ts';

// ORT's bundled telemetry otherwise leaves an empty /tmp/mat-debug-<pid>.log behind for every process
// that creates a session. ORT reads the variable when the first session is created, so this is in time.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
// ORT's own log goes to stderr unformatted; failures reach us as exceptions, which we explain in one
// line. REFT_STUDIO_ORT_LOG=verbose|info|warning brings the log back for debugging.
ort.env.logLevel = (process.env.REFT_STUDIO_ORT_LOG as typeof ort.env.logLevel) || 'fatal';

export type { DeviceChoice, DeviceUsed } from './device-choice.ts';

export interface SessionConfig {
  device?: DeviceChoice;
  /** Folder that external-data locations are relative to (the model folder). */
  weightsDir?: string;
  intraOpThreads?: number;
  /** Told, in one line, when the requested provider could not start and another runs the graph. */
  onNotice?: Notify;
  /** Fail instead of falling back to the CPU when the provider cannot start. */
  requireDevice?: boolean;
  /**
   * Fail when ORT would leave any node to the CPU (disable_cpu_ep_fallback). ORT also counts the
   * small shape/index nodes it moves to the CPU on purpose, so only graphs without them pass.
   */
  noCpuNodes?: boolean;
  /**
   * Let kernels pre-pack their constant weights (default off). Quantized bases need it: MatMulNBits
   * computes from its packed layout and otherwise dequantizes the whole weight on every call.
   */
  prepack?: boolean;
  /**
   * ORT's memory pattern (default on). Training sessions turn it off: with it, a LoReFT step on the
   * TinyLlama shape at int4 peaked at 5.3 GB RSS, without it 3.8 GB, at the same step time.
   */
  memPattern?: boolean;
  /**
   * Outputs left on the device (WebGPU only): fed back as inputs, never read on the host. Such a
   * session always runs every output (onnxruntime-node 1.29 refuses a subset when output locations
   * are set: "Output count mismatch"); runSession disposes the device outputs nobody asked for.
   */
  outputsOnDevice?: string[];
}

export interface EngineSession {
  session: ort.InferenceSession;
  /** The provider that runs the graph: 'cpu', 'cuda', 'webgpu', … */
  device: string;
  /** Why the requested device is not the one running (null when it is). */
  fallback: string | null;
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Outputs this session keeps on the device (see SessionConfig.outputsOnDevice). */
  outputsOnDevice: ReadonlySet<string>;
  /** The graph's name (for errors). */
  graph: string;
}

/** Where a session runs, as runs, evaluations and generations record it (requestedDevice's choice). */
export const deviceUsed = (s: EngineSession, requested: DeviceChoice | undefined): DeviceUsed => ({
  requested: requestedDevice(requested),
  device: s.device,
  fallback: s.fallback,
});

/** Could this process use the CUDA provider at all: is it beside the libonnxruntime we load? */
export function cudaReachable(): string | null {
  if (process.platform !== 'linux') return 'the studio installs the CUDA provider on Linux only';
  const lib = loadedOrtLibrary() ?? join(ortPackage().binDir, 'libonnxruntime.so.1');
  if (existsSync(join(dirname(lib), 'libonnxruntime_providers_cuda.so'))) return null;
  return process.env[LAUNCH_MARKER]
    ? `the CUDA runtime pack at ${process.env[LAUNCH_MARKER]} is incomplete: run \`reft-studio runtime install cuda\` again`
    : 'the CUDA runtime pack is not installed (run `reft-studio runtime install cuda`; a command that was already running when it was installed does not see it)';
}

/**
 * Why CUDA sessions cannot start, what is really missing first: no NVIDIA driver or GPU (as `devices`
 * finds it, `nvidia`) before the runtime pack (`pack`, cudaReachable's answer), whose install cannot
 * help without one. null when the pack is there: a session that still fails explains itself.
 */
export function cudaMissing(
  nvidia: Pick<NvidiaInfo, 'driverLoaded' | 'note'>,
  pack: string | null,
): string | null {
  return pack && (noNvidiaGpu(nvidia) ?? pack);
}

/** cudaMissing on this machine: nvidia-smi is asked (once per process) only when the pack is missing. */
async function cudaUnreachable(): Promise<string | null> {
  const pack = cudaReachable();
  return pack && cudaMissing(await machineNvidia(), pack);
}

/** The device a session asks for: the argument, else REFT_STUDIO_DEVICE, else the CPU. */
export const requestedDevice = (device: DeviceChoice | undefined): DeviceChoice =>
  device ?? (process.env.REFT_STUDIO_DEVICE as DeviceChoice | undefined) ?? 'cpu';

/**
 * Whether sessions for `device` (as createSession plans them, requestedDevice) will be tried on CUDA
 * first: decisions made before the session exists (layer replay, compute dtype, the decoding loop)
 * then count the GPU. A GPU chosen in Settings that does not exist rules CUDA out here as there.
 */
export async function runsOnCuda(device: DeviceChoice | undefined): Promise<boolean> {
  const d = requestedDevice(device);
  // Answered here where CUDA is out anyway: plan('auto') would go on to probe WebGPU.
  if ((d !== 'cuda' && d !== 'auto') || cudaReachable() !== null) return false;
  return (await plan(d)).eps[0] === 'cuda';
}

/**
 * Whether sessions for `device` will hold their weights and activations in the computer's memory:
 * neither CUDA nor WebGPU is planned (the CPU, 'cuda' without the runtime pack, 'auto' or 'webgpu'
 * without a GPU; DirectML and Core ML are weighed as the CPU, as precision.ts does). Decided as
 * createSession plans, without opening a session, so memory checks can run before the weights load.
 */
export async function runsInHostMemory(device: DeviceChoice | undefined): Promise<boolean> {
  return !(await runsOnCuda(device)) && !(await runsOnWebgpu(device));
}

/** null when WebGPU starts here (probed once per process in a child), else the reason. */
export async function webgpuReachable(): Promise<string | null> {
  const r = await webgpuAdapter();
  return r.ok ? null : r.reason;
}

/** Whether sessions for `device` will be tried on WebGPU first (as createSession plans them). */
export async function runsOnWebgpu(device: DeviceChoice | undefined): Promise<boolean> {
  const d = requestedDevice(device);
  if (d !== 'webgpu' && d !== 'auto') return false;
  return (await plan(d)).eps[0] === 'webgpu';
}

/**
 * Sessions for `device` will run on WebGPU: whether its adapter runs float16 shaders (the
 * shader-f16 feature, probed), else null (another provider). runtime/precision.ts decides by it.
 */
export async function webgpuHalfSupport(device: DeviceChoice | undefined): Promise<boolean | null> {
  if (!(await runsOnWebgpu(device))) return null;
  return (await webgpuAdapter()).half === true;
}

/**
 * Why sessions for `device` would not start on it (createSession's refusal under requireDevice), or
 * null: asked before a model is built or converted, so a missing provider costs no minutes.
 */
export async function deviceUnavailable(device: DeviceChoice): Promise<string | null> {
  return (await plan(device)).skipped;
}

/** The providers to try, in order, each with the reason it was skipped (for the notice). */
async function plan(device: DeviceChoice): Promise<{ eps: string[]; skipped: string | null }> {
  if (device === 'cpu') return { eps: ['cpu'], skipped: null };
  if (device === 'auto') {
    // A GPU chosen in Settings that does not exist is said, not silently passed over.
    const unreachable = cudaReachable();
    const gpu = unreachable ? null : await gpuChoiceProblem();
    if (!unreachable && !gpu) return { eps: ['cuda', 'cpu'], skipped: null };
    const skipped = gpu ? `cuda: ${gpu}` : null;
    if (await webgpuOnGpu()) return { eps: ['webgpu', 'cpu'], skipped };
    return { eps: ['cpu'], skipped };
  }
  if (device === 'cuda') {
    const why = (await cudaUnreachable()) ?? (await gpuChoiceProblem());
    return why ? { eps: ['cpu'], skipped: `cuda: ${why}` } : { eps: ['cuda', 'cpu'], skipped: null };
  }
  if (device === 'webgpu') {
    const why = await webgpuReachable();
    return why ? { eps: ['cpu'], skipped: why } : { eps: ['webgpu', 'cpu'], skipped: null };
  }
  return { eps: [device, 'cpu'], skipped: null };
}

export async function createSession(graph: Graph, cfg: SessionConfig = {}): Promise<EngineSession> {
  const bytes = encodeModel(graph);
  const device = requestedDevice(cfg.device);
  const requireDevice = cfg.requireDevice ?? process.env.REFT_STUDIO_REQUIRE_DEVICE === '1';
  const { eps, skipped } = await plan(device);
  let why = skipped;
  if (requireDevice && why) throw new OrtError('provider-unavailable', why);
  let lastErr: unknown = null;
  for (const ep of eps) {
    const outputs = new Set(graph.outputs.map((o) => o.name));
    const onDevice = ep === 'webgpu' ? (cfg.outputsOnDevice ?? []).filter((n) => outputs.has(n)) : [];
    if (ep === 'cuda') alignCudaNumbering();
    const opts: ort.InferenceSession.SessionOptions = {
      // The chosen GPU (gpu-choice.ts); the other providers pick their device themselves.
      executionProviders: [ep === 'cuda' ? { name: 'cuda', deviceId: gpuChoice().deviceId } : ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: cfg.intraOpThreads ?? intraOpThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // See SessionConfig.memPattern.
      ...(cfg.memPattern === false ? { enableMemPattern: false } : {}),
      ...(onDevice.length
        ? { preferredOutputLocation: Object.fromEntries(onDevice.map((n) => [n, 'gpu-buffer' as const])) }
        : {}),
      extra: {
        session: {
          ...(cfg.weightsDir ? { model_external_initializers_file_folder_path: cfg.weightsDir } : {}),
          // Pre-packing copies every constant right-hand weight (Gemm's W, GPT-2's Conv1D) into a
          // private buffer per session; without it weights stay memory-mapped, shared by all sessions.
          // Quantized bases turn it on (see quantize/base.ts): their float Gemms are activations only.
          disable_prepacking: cfg.prepack ? '0' : '1',
          ...(cfg.noCpuNodes && ep !== 'cpu' ? { disable_cpu_ep_fallback: '1' } : {}),
          // On CUDA the weights are allocated exactly, outside ORT's arena, which grows by doubling
          // regions and can hold up to twice what 16 GB of 8B weights need (the 8B anchor's peak GPU
          // memory is a target). REFT_STUDIO_INITIALIZERS_IN_ARENA=1 restores ORT's default, to
          // measure (scripts/gpu-check.sh bench-8b). WebGPU keeps its own buffer pool (no change
          // measured on lavapipe).
          ...(ep === 'cuda'
            ? {
                use_device_allocator_for_initializers:
                  process.env.REFT_STUDIO_INITIALIZERS_IN_ARENA === '1' ? '0' : '1',
              }
            : {}),
        },
      },
    };
    try {
      const session = await ort.InferenceSession.create(bytes, opts);
      const fallback = ep === device ? null : why;
      if (fallback) cfg.onNotice?.(fallbackLine({ requested: device, device: ep, fallback }), 'warn');
      // WebGPU named on a CPU adapter runs (no GPU used): said in one line, not hidden.
      const adapter = ep === 'webgpu' ? await webgpuAdapter() : null;
      if (adapter?.software) cfg.onNotice?.(softwareAdapterLine(adapter), 'warn');
      return {
        session,
        device: ep,
        fallback,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        outputsOnDevice: new Set(onDevice),
        graph: graph.name,
      };
    } catch (e) {
      lastErr = e;
      // Weights that do not fit are not a reason to try another provider: say so.
      const oom = describeOutOfMemory((e as Error).message ?? '', ep, graph.name);
      if (oom) throw new OrtError('out-of-memory', oom);
      // No provider has the kernel (the CPU was the fallback already): another provider will not help.
      const kernel = describeMissingKernel((e as Error).message ?? '', ep, graph.name);
      // After a fallback, what stopped the requested provider matters first.
      if (kernel)
        throw new OrtError(
          'missing-kernel',
          why && ep !== device
            ? `device '${device}' unavailable — ${why}; on ${ep} instead: ${kernel}`
            : kernel,
        );
      if (ep === 'cpu') break;
      // The exception says little ("Failed to load shared library"); a probe's log says what is missing.
      why =
        ep === 'cuda'
          ? ((await probeProvider('cuda')).reason ?? explainFailure(ep, (e as Error).message, ''))
          : explainFailure(ep, (e as Error).message, '');
      if (requireDevice || cfg.noCpuNodes)
        throw new OrtError('provider-failed', `${why} (graph '${graph.name}')`);
    }
  }
  throw new OrtError(
    'session-create-failed',
    `ONNX Runtime could not load graph '${graph.name}': ${(lastErr as Error)?.message ?? lastErr}`,
  );
}

/**
 * ORT's "Could not find an implementation for ReduceMean(18) node with name 'n2'" — no provider,
 * the CPU included, runs that op at the types the graph gives it (bfloat16 most often) — as one line
 * with the way out, or null for another failure.
 */
export function describeMissingKernel(message: string, ep: string, graph: string): string | null {
  const m = /Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'/.exec(message);
  if (!m) return null;
  const where = ep === 'cpu' ? 'the CPU' : `${ep} or the CPU`;
  return (
    `ONNX Runtime has no kernel for ${m[1]} (opset ${m[2]}, node ${m[3]}) at the tensor types graph ` +
    `'${graph}' uses, on ${where}: in half precision, --dtype fp32 computes in float32`
  );
}

export type Feeds = Record<string, ort.Tensor>;

export async function runSession(
  s: EngineSession,
  feeds: Feeds,
  fetches?: string[],
): Promise<Record<string, ort.Tensor>> {
  try {
    if (fetches && s.outputsOnDevice.size) {
      const all = (await s.session.run(feeds)) as Record<string, ort.Tensor>;
      const want = new Set(fetches);
      for (const [name, t] of Object.entries(all))
        if (!want.has(name)) {
          if (s.outputsOnDevice.has(name)) t.dispose();
          delete all[name];
        }
      return all;
    }
    return (await (fetches ? s.session.run(feeds, fetches) : s.session.run(feeds))) as Record<
      string,
      ort.Tensor
    >;
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    const oom = describeOutOfMemory(message, s.device, s.graph);
    throw oom
      ? new OrtError('out-of-memory', oom)
      : new OrtError('run-failed', `ONNX Runtime failed: ${message}`);
  }
}

export { ort };
