// ONNX Runtime sessions for graphs built by the engine: serialize the IR in memory, point ORT at the
// folder holding the external weights, choose an execution provider with a CPU fallback.
// ORT's create/run are synchronous native calls: callers run the engine off any interactive event loop.

import * as ort from 'onnxruntime-node';
import { OrtError } from '../errors.ts';
import { encodeModel } from '../formats/onnx.ts';
import type { Graph } from '../ir/graph.ts';

// ORT's bundled telemetry otherwise leaves an empty /tmp/mat-debug-<pid>.log behind for every process
// that creates a session. ORT reads the variable when the first session is created, so this is in time.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export type DeviceChoice = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';

export interface SessionConfig {
  device?: DeviceChoice;
  /** Folder that external-data locations are relative to (the model folder). */
  weightsDir?: string;
  intraOpThreads?: number;
  /** Log why a requested provider fell back to CPU. */
  onNotice?: (msg: string) => void;
  /**
   * Let kernels pre-pack their constant weights (default off). Quantized bases need it: MatMulNBits
   * computes from its packed layout and otherwise dequantizes the whole weight on every call.
   */
  prepack?: boolean;
}

export interface EngineSession {
  session: ort.InferenceSession;
  device: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
}

const PROVIDER: Record<Exclude<DeviceChoice, 'auto'>, string> = {
  cpu: 'cpu',
  cuda: 'cuda',
  webgpu: 'webgpu',
  dml: 'dml',
  coreml: 'coreml',
};

export function availableProviders(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

function candidates(device: DeviceChoice): string[] {
  if (device === 'cpu') return ['cpu'];
  if (device !== 'auto') return [PROVIDER[device], 'cpu'];
  // auto: prefer CUDA when its provider library is installed, then the platform's native GPU path.
  const avail = new Set(availableProviders());
  const order = ['cuda', 'dml', 'coreml'].filter((p) => avail.has(p));
  return [...order, 'cpu'];
}

export async function createSession(graph: Graph, cfg: SessionConfig = {}): Promise<EngineSession> {
  const bytes = encodeModel(graph);
  const device = cfg.device ?? 'cpu';
  let lastErr: unknown = null;
  for (const ep of candidates(device)) {
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: cfg.intraOpThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      extra: {
        session: {
          ...(cfg.weightsDir ? { model_external_initializers_file_folder_path: cfg.weightsDir } : {}),
          // Pre-packing copies every constant right-hand weight (Gemm's W, GPT-2's Conv1D) into a
          // private buffer per session; without it weights stay memory-mapped, shared by all sessions.
          // Quantized bases turn it on (see quantize/base.ts): their float Gemms are activations only.
          disable_prepacking: cfg.prepack ? '0' : '1',
        },
      },
    };
    try {
      const session = await ort.InferenceSession.create(bytes, opts);
      if (lastErr)
        cfg.onNotice?.(
          `device '${device}' unavailable (${(lastErr as Error).message.split('\n')[0]}); running on ${ep}`,
        );
      return { session, device: ep, inputNames: session.inputNames, outputNames: session.outputNames };
    } catch (e) {
      lastErr = e;
      if (ep === 'cpu') break;
    }
  }
  throw new OrtError(
    'session-create-failed',
    `ONNX Runtime could not load graph '${graph.name}': ${(lastErr as Error)?.message ?? lastErr}`,
  );
}

export type Feeds = Record<string, ort.Tensor>;

export async function runSession(
  s: EngineSession,
  feeds: Feeds,
  fetches?: string[],
): Promise<Record<string, ort.Tensor>> {
  try {
    return (await (fetches ? s.session.run(feeds, fetches) : s.session.run(feeds))) as Record<
      string,
      ort.Tensor
    >;
  } catch (e) {
    throw new OrtError('run-failed', `ONNX Runtime failed: ${(e as Error).message}`);
  }
}

export { ort };
