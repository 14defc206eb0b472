// Does an ONNX Runtime execution provider start on this machine? Answered in a child process that
// creates a one-node session on the provider (CPU fallback disabled) and checks the result, so that
// Dawn's and ORT's raw warnings, a crash inside a driver, or a CUDA pack installed after this process
// started cannot affect the caller. The child's stderr is reduced to one clear line.

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { encodeModel } from '../formats/onnx.ts';
import { GraphBuilder } from '../ir/builder.ts';

export interface ProbeResult {
  ok: boolean;
  /** One line: why the provider did not start (null when ok). */
  reason: string | null;
  /** Milliseconds the child took, ORT's start-up included. */
  ms: number;
  /**
   * WebGPU only: a float16 product ran too. Adapters without the shader-f16 feature cannot (their
   * shaders do not compile), so --dtype auto keeps float32 there (runtime/precision.ts).
   */
  half?: boolean;
}

const require = createRequire(import.meta.url);

/** y = x·W for a 2×2 W: checks that a real product came back, not just that a session opened. */
function probeModel(): Buffer {
  const b = new GraphBuilder('probe');
  const x = b.input('x', 'float32', [1, 2]);
  b.output(b.op('MatMul', [x, b.const('float32', [1, 2, 3, 4], [2, 2])]), 'y');
  return Buffer.from(encodeModel(b.graph));
}

/** The same product in float16 between two casts (inputs and outputs float32, as the engine's graphs). */
function halfProbeModel(): Buffer {
  const b = new GraphBuilder('probe-half');
  const x = b.cast(b.input('x', 'float32', [1, 2]), 'float16');
  const w = b.cast(b.const('float32', [1, 2, 3, 4], [2, 2]), 'float16');
  b.output(b.cast(b.op('MatMul', [x, w]), 'float32'), 'y');
  return Buffer.from(encodeModel(b.graph));
}

const CHILD = `
const ort = require(process.env.REFT_PROBE_ORT);
const ep = process.env.REFT_PROBE_EP;
const say = (o) => process.stdout.write('\\n@@probe ' + JSON.stringify(o) + '\\n');
const product = (env) =>
  ort.InferenceSession.create(Buffer.from(process.env[env], 'base64'), {
    executionProviders: [ep], logSeverityLevel: 2,
    extra: { session: { disable_cpu_ep_fallback: '1' } },
  }).then((s) => s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1), [1, 2]) }))
    .then((r) => { const y = Array.from(r.y.data); return y[0] === 4 && y[1] === 6 ? null : 'wrong result ' + y; });
product('REFT_PROBE_MODEL').then(
  (wrong) => {
    if (wrong || !process.env.REFT_PROBE_HALF) return say(wrong ? { ok: false, message: wrong } : { ok: true });
    return product('REFT_PROBE_HALF').then((w) => say({ ok: true, half: !w }), () => say({ ok: true, half: false }));
  },
  (e) => say({ ok: false, message: String(e && e.message || e) }));
`;

export async function probeProvider(
  ep: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = {
    ...(opts.env ?? process.env),
    REFT_PROBE_ORT: require.resolve('onnxruntime-node'),
    REFT_PROBE_MODEL: probeModel().toString('base64'),
    REFT_PROBE_EP: ep,
    ...(ep === 'webgpu' ? { REFT_PROBE_HALF: halfProbeModel().toString('base64') } : {}),
    ELECTRON_RUN_AS_NODE: '1',
    ORT_DISABLE_TELEMETRY: '1',
  };
  const { stdout, stderr, error } = await new Promise<{
    stdout: string;
    stderr: string;
    error: Error | null;
  }>((resolve) => {
    execFile(
      process.execPath,
      ['-e', CHILD],
      { env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 8 << 20 },
      (error, stdout, stderr) => resolve({ stdout: String(stdout), stderr: String(stderr), error }),
    );
  });
  const ms = Math.round(performance.now() - t0);
  const line = /@@probe (.*)/.exec(stdout)?.[1];
  if (line) {
    const r = JSON.parse(line) as { ok: boolean; message?: string; half?: boolean };
    if (r.ok) return { ok: true, reason: null, ms, ...(r.half !== undefined ? { half: r.half } : {}) };
    return { ok: false, reason: explainFailure(ep, r.message ?? '', stderr), ms };
  }
  const why = (error as NodeJS.ErrnoException & { killed?: boolean; signal?: string })?.killed
    ? `timed out after ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s`
    : `the probe process stopped (${(error as { signal?: string })?.signal ?? 'no result'})`;
  return { ok: false, reason: `${ep}: ${why}${firstUseful(stderr) ? `: ${firstUseful(stderr)}` : ''}`, ms };
}

/** The most telling line of ORT's/Dawn's log, without timestamps and colour codes. */
function firstUseful(log: string): string {
  const lines = log
    .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '') // colour codes
    .split('\n')
    .map((l) => l.replace(/^\s*\d{4}-\d\d-\d\d [\d:.]+ \[[A-Z]:[^\]]*\]\s*/, '').trim())
    .filter((l) => l && !/XDG_RUNTIME_DIR/.test(l));
  const loadErr = lines.find((l) => /cannot open shared object|undefined symbol|error while loading/.test(l));
  if (loadErr) return loadErr.replace(/.*\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
  return lines.find((l) => /^Warning:/.test(l)) ?? '';
}

/** Turns ORT's exception and log into one line that says what is missing. */
export function explainFailure(ep: string, message: string, log: string): string {
  const detail = firstUseful(log);
  if (ep === 'webgpu') {
    if (/No supported adapters|Failed to get a WebGPU adapter/i.test(message)) {
      const why = /Couldn't load Vulkan|libvulkan/i.test(log)
        ? 'the Vulkan loader (libvulkan.so.1) is not installed'
        : detail
          ? `the GPU driver was refused: ${detail.replace(/^Warning:\s*/, '')}`
          : 'no GPU driver offers WebGPU (on Linux: a Vulkan driver)';
      return `webgpu: no WebGPU adapter — ${why}`;
    }
  }
  if (
    ep === 'cuda' &&
    /Failed to load shared library|providers_cuda|providers_shared/i.test(`${message}\n${log}`)
  ) {
    const m = /([\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(log);
    if (m && !m[1].startsWith('libonnxruntime_providers'))
      return `cuda: the CUDA provider needs ${m[1]}, which the loader cannot find`;
    if (/undefined symbol/.test(log))
      return `cuda: the CUDA provider library is broken or for another ONNX Runtime version (${detail})`;
    return 'cuda: the CUDA provider libraries are not installed (run `reft-studio runtime install cuda`)';
  }
  const first = message.split('\n')[0].replace(/^.*\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
  return `${ep}: ${first}${detail && !first.includes(detail) ? ` (${detail})` : ''}`;
}
