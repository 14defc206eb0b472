// Speed measurements behind `reft-studio bench` (cli.md): the same workloads as the PyTorch anchors
// (../shared/docs/anchors.md), random token ids from a fixed seed, an untimed warm-up, then timed
// steps. Peak RSS is the process's maximum resident set size, which includes the weights.
// A GPU device is required, never a silent CPU fallback (requireDevice); the command samples the
// GPU's memory around the measurement (cli/commands/bench.ts).

import { ConfigError } from '../errors.ts';
import { Generator } from '../generation/generator.ts';
import { mulberry32 } from '../generation/sampling.ts';
import { interventionKey } from '../interventions/kinds.ts';
import { GraphBuilder } from '../ir/builder.ts';
import type { ModelSpec } from '../models/config.ts';
import { prepareTraining } from '../quantize/base.ts';
import { type QuantScheme, schemeName } from '../quantize/scheme.ts';
import { loadForwardModel, runForward } from '../runtime/forward.ts';
import { modelLoadIssue } from '../runtime/precision.ts';
import { createSession, type DeviceChoice, ort, runSession } from '../runtime/session.ts';
import { WARMUP_STEPS } from '../runtime/warm-up.ts';
import {
  interventionLocations,
  isUntied,
  type Positions,
  parseLayers,
  parsePositions,
} from '../training/positions.ts';
import type { HostShape } from '../training/recompute.ts';
import {
  type InterventionState,
  type ParamTensor,
  type ReftBatch,
  ReftModel,
} from '../training/reft-model.ts';
import { ReftOptimizer } from '../training/reft-optimizer.ts';
import { HouseholderParam } from '../training/stiefel.ts';

export interface BenchResult {
  tokens_per_s: number;
  step_ms: number;
  peak_rss_mb: number;
  device: string;
  [k: string]: unknown;
}

/**
 * Progress of a bench: timed steps done out of `steps` (0 once the untimed warm-up is over, so the
 * warm-up is never counted as a step); tokens for decode, with `perS` the decode rate so far,
 * measured as its result's `tokens_per_s` is.
 */
export type BenchProgress = (done: number, total: number, perS?: number) => void;

/**
 * CPU time this process spent since `c0` (ms, all threads). On a shared machine wall time swings with
 * the other processes' load; CPU time per step barely does, so it compares candidates run minutes apart.
 */
const cpuMs = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};

export const peakRssMb = (): number => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;

const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;

/** What a bench asks of the computer's memory, for refuseBenchOverMemory. */
export interface BenchMemoryOptions {
  /** What the bench does with the model: 'chat' for prefill and decode. */
  use: 'chat' | 'train';
  /** A training bench's step: sequences per step × tokens per sequence. */
  step?: { batch: number; tokens: number };
  /** The computer's memory in bytes (default: its total; tests). */
  memory?: number;
}

/**
 * Refuses, in the command line's words, a bench whose model this computer's memory cannot hold in
 * its --quantize form: generate's and train's check (runtime/precision.ts hostMemoryIssue), asked
 * before a synthetic model is written or a base converted — a float32 Llama-3-8B is 32 GB, which a
 * 24 GB computer would read from disk for every token. A training bench's `step` (its batch ×
 * seq) is then checked as `train` checks its step (training/recompute.ts hostStepIssue): one that
 * cannot fit ('batch-too-large') would otherwise swap, or be killed with no message. Nothing is
 * refused on a GPU, or with REFT_STUDIO_MEMORY_CHECK=0. `memory`: the computer's (default its total; tests).
 */
export async function refuseBenchOverMemory(
  shape: HostShape,
  o: BenchMemoryOptions & { scheme: QuantScheme | null; device?: DeviceChoice },
): Promise<void> {
  const issue = await modelLoadIssue(shape, {
    quantize: schemeName(o.scheme),
    device: o.device,
    memory: o.memory,
    use: o.use,
    step: o.step,
    setBy: 'bench',
  });
  if (issue) throw new ConfigError(issue.code, issue.cli);
}

/** A named GPU must run the bench: falling back to the CPU would measure the wrong thing. */
const requireDevice = (d?: DeviceChoice): boolean => !!d && d !== 'cpu' && d !== 'auto';

/** Creates and runs a one-node session, so ONNX Runtime's per-process start-up is behind us. */
async function initOrt(device?: DeviceChoice): Promise<void> {
  const b = new GraphBuilder('ort-init');
  b.output(b.op('Identity', [b.input('x', 'float32', [1])]), 'y');
  const s = await createSession(b.graph, { device });
  await runSession(s, { x: new ort.Tensor('float32', Float32Array.of(0), [1]) });
  await s.session.release();
}

/** What a bench's options ask of a model: its positions and layers, in its config. */
export type BenchDims = Pick<ModelSpec, 'maxPositions' | 'numLayers'>;

/** Sequences longer than the model's positions are refused before anything is built or allocated. */
function checkLength(spec: BenchDims, tokens: number, what: string): void {
  if (tokens > spec.maxPositions)
    throw new ConfigError(
      'bad-option',
      `bench: ${tokens} ${what} is more than the model's ${spec.maxPositions} positions`,
    );
}

export function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => 10 + Math.floor(rng() * (vocab - 10)));
}

/**
 * Each bench's options checked against the model's config alone: the command runs these before it
 * converts a base or builds a synthetic model (minutes), the benches again on what they are given.
 */
export function checkPrefillOptions(dims: BenchDims, o: { seq?: number }): void {
  checkLength(dims, o.seq ?? 128, 'tokens per sequence');
}

export function checkDecodeOptions(dims: BenchDims, o: { prompt?: number; newTokens?: number }): void {
  checkLength(dims, (o.prompt ?? 32) + (o.newTokens ?? 64), 'tokens (prompt + new tokens)');
}

/** Also the layers and positions parsed, for benchTrain to use. */
export function checkTrainOptions(
  dims: BenchDims,
  o: { seq?: number; layers?: string; positions?: string },
): { layers: number[]; positions: Positions } {
  checkLength(dims, o.seq ?? 128, 'tokens per sequence');
  const layers = parseLayers(o.layers ?? 'all', dims.numLayers);
  const positions = parsePositions(o.positions ?? 'f5+l5', Number.MAX_SAFE_INTEGER);
  return { layers, positions };
}

async function warmUp(step: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < WARMUP_STEPS; i++) await step();
}

export async function benchPrefill(
  spec: ModelSpec,
  o: { batch?: number; seq?: number; steps?: number; device?: DeviceChoice; onStep?: BenchProgress },
): Promise<BenchResult> {
  const B = o.batch ?? 4,
    T = o.seq ?? 128,
    steps = o.steps ?? 3;
  checkPrefillOptions(spec, o);
  const m = await loadForwardModel(spec, { device: o.device, requireDevice: requireDevice(o.device) });
  const ids = BigInt64Array.from(randomIds(B * T, spec.vocabSize, 1), BigInt);
  const mask = new BigInt64Array(B * T).fill(1n);
  await warmUp(() => runForward(m, ids, mask, [B, T]));
  o.onStep?.(0, steps);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    await runForward(m, ids, mask, [B, T]);
    o.onStep?.(i + 1, steps);
  }
  const ms = (performance.now() - t0) / steps;
  return {
    tokens_per_s: (B * T) / (ms / 1000),
    step_ms: ms,
    cpu_ms_per_step: cpuMs(c0) / steps,
    peak_rss_mb: peakRssMb(),
    device: m.session.device,
    batch: B,
    seq: T,
    warmup_steps: WARMUP_STEPS,
  };
}

export async function benchDecode(
  spec: ModelSpec,
  o: { prompt?: number; newTokens?: number; chunk?: number; device?: DeviceChoice; onStep?: BenchProgress },
): Promise<BenchResult> {
  const P = o.prompt ?? 32,
    N = o.newTokens ?? 64;
  checkDecodeOptions(spec, o);
  const rssStart = process.memoryUsage().rss;
  // ONNX Runtime pages in ~19 MB of its own code (kernel registry, graph optimizer) on the process's
  // first session, whatever the model: open a one-node session first so the model's cost is its own.
  await initOrt(o.device);
  const rssBefore = process.memoryUsage().rss;
  const gen = await Generator.load(spec, { device: o.device, requireDevice: requireDevice(o.device) });
  const prompt = randomIds(P, spec.vocabSize, 2);
  // Warm-up through the same path: a chunk's loop is compiled on its first run.
  await gen.generate([prompt], {
    greedy: true,
    maxNewTokens: Math.min(N, 2 * (o.chunk ?? 8) + 1),
    eosTokenIds: [],
    chunk: o.chunk,
  });
  let rssPeak = 0;
  // Decode speed as the anchors (pyreft) count it: the cached steps after the first new token, which
  // the prefill pass makes, per token. The progress lines' rate and the result both come from these
  // clock readings, so the last line states the result.
  let firstAt = 0;
  let lastAt = 0;
  let tokens = 0;
  const c0 = process.cpuUsage();
  const r = await gen.generate([prompt], {
    greedy: true,
    maxNewTokens: N,
    eosTokenIds: [],
    chunk: o.chunk,
    onToken: () => {
      lastAt = performance.now();
      if (++tokens === 1) firstAt = lastAt;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      o.onStep?.(tokens, N, tokens > 1 ? ((tokens - 1) * 1000) / (lastAt - firstAt) : undefined);
    },
  });
  // What the model costs while generating: peak RSS minus the process before loading it (Node, ORT's
  // library), against the fp32 size of the weights and against the weights in the form read (a
  // converted or quantized store's size). Weights stay memory-mapped from the safetensors files.
  const weightBytesF32 = spec.params * 4;
  const formBytes = spec.base?.dir
    ? spec.weights.headers.reduce((a, h) => a + h.fileSize, 0)
    : weightBytesF32;
  const decodeSteps = r.newTokens - 1;
  // One new token has no cached step: its time per token is the generator's (prefill to the end).
  const ms = decodeSteps > 0 ? (lastAt - firstAt) / decodeSteps : r.decodeMs;
  // Nodes a token runs in the in-graph loop (the generator's graph has one unless the base is
  // quantized on the CPU; chunk 1 does not use it): time per node says whether kernel launches bound
  // decoding.
  const chunk = gen.chunkSize({ chunk: o.chunk, greedy: true });
  const nodes = chunk > 1 ? gen.decoding.loopNodes : null;
  return {
    tokens_per_s: 1000 / ms,
    step_ms: ms,
    // CPU time per new token, the prompt pass included (see cpuMs).
    cpu_ms_per_token: cpuMs(c0) / Math.max(1, r.newTokens),
    peak_rss_mb: peakRssMb(),
    device: gen.session.device,
    prompt: P,
    new_tokens: r.newTokens,
    chunk,
    // Which loop body decoded: the fused step (generation/fused-step.ts) or the general decoder.
    decode_step: nodes === null ? null : gen.decoding.fused ? 'fused' : 'general',
    decode_loop_nodes: nodes,
    us_per_node: nodes ? Math.round((ms * 1000 * 100) / nodes) / 100 : null,
    prefill_ms: r.prefillMs,
    rss_start_mb: mb(rssStart),
    rss_ort_code_mb: mb(rssBefore - rssStart),
    rss_before_load_mb: mb(rssBefore),
    rss_peak_generating_mb: mb(rssPeak),
    f32_weights_mb: mb(weightBytesF32),
    model_rss_over_f32_weights: Math.round(((rssPeak - rssBefore) / weightBytesF32) * 100) / 100,
    // The same, counting ORT's first-session code pages as part of the model.
    with_ort_code_over_f32_weights: Math.round(((rssPeak - rssStart) / weightBytesF32) * 100) / 100,
    base_weights_mb: mb(formBytes),
    model_rss_over_base_weights: Math.round(((rssPeak - rssBefore) / formBytes) * 100) / 100,
  };
}

/** A training bench's step, batch × seq (defaults 4 × 128): benchTrain's, and its memory check's. */
export function benchTrainStep(o: { batch?: number; seq?: number }): { batch: number; tokens: number } {
  return { batch: o.batch ?? 4, tokens: o.seq ?? 128 };
}

/**
 * LoReFT training speed: random ids (fixed seed), labels on the last seq − prompt tokens, interventions
 * at `layers` with `positions` computed on the first `prompt` tokens (f+l untied = two per layer),
 * AdamW; WARMUP_STEPS untimed optimizer steps, then `steps` timed ones.
 */
export async function benchTrain(
  spec: ModelSpec,
  o: {
    layers?: string;
    positions?: string;
    rank?: number;
    batch?: number;
    seq?: number;
    prompt?: number;
    steps?: number;
    device?: DeviceChoice;
    onStep?: BenchProgress;
    backward?: TrainBackward;
  },
): Promise<BenchResult> {
  const { batch: B, tokens: T } = benchTrainStep(o);
  const P = o.prompt ?? 64,
    steps = o.steps ?? 3,
    r = o.rank ?? 4;
  // Training's own syntax and words (training/positions.ts): the same flags mean the same there.
  const { layers, positions } = checkTrainOptions(spec, o);
  // The trainer's positions on the prompt, one list per group (prefix and suffix when untied),
  // without the −1 slots that pad a prompt too short for them.
  const untied = isUntied(positions, false);
  const groups = interventionLocations(P, positions, untied ? 2 : 1, untied).map((g) =>
    g.filter((p) => p >= 0),
  );
  const n = spec.hiddenSize;
  const rng = mulberry32(3);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const states: InterventionState[] = [];
  groups.forEach((_g, gi) => {
    for (const l of layers) {
      const R0 = Float64Array.from({ length: n * r }, gauss);
      const rot = HouseholderParam.fromR(orthonormalize(R0, n, r), n, r);
      const params = new Map<string, ParamTensor>([
        ['rotate_layer', { data: rot.forward(), shape: [n, r] }],
        [
          'weight',
          { data: Float32Array.from({ length: r * n }, () => gauss() / Math.sqrt(n)), shape: [r, n] },
        ],
        ['bias', { data: new Float32Array(r), shape: [r] }],
      ]);
      states.push({
        spec: {
          key: interventionKey(l, gi),
          layer: l,
          type: 'loreft',
          rank: r,
          embedDim: n,
          act: 'linear',
          dropout: 0,
        },
        params,
        rot,
      });
    }
  });
  // As the trainer does: a quantized base packs (with its transposed backward layout) where it fits;
  // `backward` pins one of the layouts measured in ARCHITECTURE.md ('packed-dequantize': packed forward,
  // gradient through DequantizeLinear).
  const trained =
    o.backward === 'packed-dequantize' ? spec : await prepareTraining(spec, { pack: packFor(o.backward) });
  const model = await ReftModel.load(trained, states, {
    device: o.device,
    requireDevice: requireDevice(o.device),
    prepack: o.backward === 'packed-dequantize' ? true : undefined,
    workload: { batch: B, tokens: T },
  });
  const ids = BigInt64Array.from(randomIds(B * T, spec.vocabSize, 1), BigInt);
  const labels = ids.slice();
  for (let b = 0; b < B; b++) for (let t = 0; t < P; t++) labels[b * T + t] = -100n;
  const locations = states.map((_s, k) => {
    const pos = groups[Math.floor(k / layers.length)];
    const data = new BigInt64Array(B * pos.length);
    for (let b = 0; b < B; b++)
      pos.forEach((p, i) => {
        data[b * pos.length + i] = BigInt(p);
      });
    return { data, P: pos.length };
  });
  const batch: ReftBatch = {
    inputIds: ids,
    attentionMask: new BigInt64Array(B * T).fill(1n),
    labels,
    dims: [B, T],
    locations,
  };
  const opt = new ReftOptimizer(model, { weightDecay: 0 });
  const step = async () => {
    const g = await model.lossAndGrads(batch);
    opt.accumulate(g.grads, 1);
    opt.step(1e-3);
    return g.loss;
  };
  await warmUp(step);
  o.onStep?.(0, steps);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let loss = 0;
  for (let i = 0; i < steps; i++) {
    loss = await step();
    o.onStep?.(i + 1, steps);
  }
  const ms = (performance.now() - t0) / steps;
  return {
    tokens_per_s: (B * T) / (ms / 1000),
    step_ms: ms,
    cpu_ms_per_step: cpuMs(c0) / steps,
    peak_rss_mb: peakRssMb(),
    device: model.session.device,
    warmup_steps: WARMUP_STEPS,
    interventions: states.length,
    loss,
    backward: !trained.base?.scheme ? 'float' : (o.backward ?? trained.base.backward ?? 'dequantize'),
    // Layers replayed in the backward (training/recompute.ts: chosen by the model's size and this
    // machine's memory, or REFT_STUDIO_RECOMPUTE).
    recompute: model.recompute,
  };
}

const packFor = (b: TrainBackward | undefined): boolean | undefined =>
  b === 'transposed' ? true : b === 'unpacked' ? false : undefined;

/** How a quantized base's gradient is computed in bench train (default: the trainer's choice). */
export type TrainBackward = 'transposed' | 'packed-dequantize' | 'unpacked';

/** Gram–Schmidt on the columns of an n×r matrix (the benchmark's random R). */
function orthonormalize(a: Float64Array, n: number, r: number): Float64Array {
  const q = a.slice();
  for (let j = 0; j < r; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i * r + j] * q[i * r + k];
      for (let i = 0; i < n; i++) q[i * r + j] -= d * q[i * r + k];
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += q[i * r + j] ** 2;
    s = Math.sqrt(s);
    for (let i = 0; i < n; i++) q[i * r + j] /= s;
  }
  return q;
}
