// Text generation on a KV-cached decoder graph: one prefill pass over the (left-padded) prompts, then
// one token per step with the cache fed back. With an adapter, the prompt pass is intervened and the
// decoding steps are not (they get empty location lists), exactly as pyreft generates: decoding reads
// the key/value cache produced by the intervened prompt pass.
// Position ids come from the attention mask (cumulative sum − 1), as transformers' generate does.

import { CancelledError, ConfigError, OrtError } from '../errors.ts';
import { type InterventionSpec, PARAMS } from '../interventions/kinds.ts';
import type { Graph } from '../ir/graph.ts';
import type { ModelSpec } from '../models/config.ts';
import { cacheOutputs } from '../models/decoder.ts';
import type { Notify } from '../notices.ts';
import { shouldPrepack } from '../quantize/base.ts';
import {
  createSession,
  type DeviceChoice,
  type EngineSession,
  ort,
  requestedDevice,
  runSession,
  runsOnCuda,
} from '../runtime/session.ts';
import { buildReftGraph } from '../training/reft-graph.ts';
import { decodeLoopNodes } from './decode-loop.ts';
import { type FusedStepOptions, fusedStepOptions, fusedStepProblem } from './fused-step.ts';
import { mulberry32, type SamplingOptions, sample } from './sampling.ts';

export interface InterventionFeed {
  /** Parameters per intervention, by name (kinds.ts), float32. */
  params: Array<Record<string, { data: Float32Array; shape: number[] }>>;
  /** Per prompt row, per intervention: token positions in the unpadded prompt (−1 = none). */
  locations: number[][][];
  /** Per intervention, α for `scalable` specs (default 1); see interventions/graph.ts. */
  scales?: number[];
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  seed?: number;
  eosTokenIds?: number[];
  /** Stops a row when it returns true for the row's generated ids so far (stop strings). */
  shouldStop?: (row: number, ids: number[]) => boolean;
  onToken?: (row: number, id: number) => void;
  signal?: AbortSignal;
  interventions?: InterventionFeed;
  /**
   * Tokens decoded per run after the prompt (default 8, CUDA 16): the graph's loop samples them without
   * returning to JavaScript, so onToken and shouldStop see them a chunk at a time (a stop string
   * may cost up to chunk − 1 tokens of wasted work). 1: one token per run.
   */
  chunk?: number;
}

export type FinishReason = 'eos' | 'length' | 'stop';

export interface GenerateResult {
  tokens: number[][];
  finishReasons: FinishReason[];
  promptTokens: number;
  newTokens: number;
  prefillMs: number;
  decodeMs: number;
}

export class Generator {
  readonly spec: ModelSpec;
  readonly session: EngineSession;
  readonly interventions: InterventionSpec[];
  /** The decoding loop the session's graph has (the decode bench divides a token's time by its nodes). */
  readonly decoding: Decoding;

  private constructor(
    spec: ModelSpec,
    session: EngineSession,
    interventions: InterventionSpec[],
    decoding: Decoding = NO_LOOP,
  ) {
    this.spec = spec;
    this.session = session;
    this.interventions = interventions;
    this.decoding = decoding;
  }

  /** A generator over its own session (base model, or a fixed set of interventions). */
  static async load(
    spec: ModelSpec,
    opts: {
      device?: DeviceChoice;
      requireDevice?: boolean;
      interventions?: InterventionSpec[];
      onNotice?: Notify;
    } = {},
  ): Promise<Generator> {
    const ivs = opts.interventions ?? [];
    // Its own graph carries the in-graph decoding loop (decode-loop.ts): several tokens per run.
    const decodeLoop = decodeLoopFits(spec, await runsOnCuda(opts.device));
    const open = async (
      fused: FusedStepOptions | null,
      requireDevice = opts.requireDevice,
      loop = decodeLoop,
    ): Promise<Generator> => {
      const g = buildReftGraph(spec, ivs, { decodeLoop: loop, fusedDecode: loop ? fused : null });
      const session = await createSession(g.graph, {
        device: opts.device,
        requireDevice,
        weightsDir: g.weightsDir,
        onNotice: opts.onNotice,
        outputsOnDevice: cacheOutputs(spec),
        prepack: shouldPrepack(spec, { training: false }),
      });
      if (await loopFellBack(spec, loop, session)) return open(null, requireDevice, false);
      return new Generator(spec, session, ivs, decodingOf(g.graph, loop, loop && fused !== null));
    };
    if (!decodeLoop) return open(null);
    return openWithFusedDecoding(spec, opts, open, (gen) => gen);
  }

  /** Decodes a 2-token chunk from a 1-token prompt: the error it raised, or null when it ran. */
  async probeFused(): Promise<unknown> {
    try {
      await this.generate([[0]], {
        greedy: true,
        maxNewTokens: 3,
        eosTokenIds: [],
        chunk: 2,
        interventions: this.#noIntervention(),
      });
      return null;
    } catch (e) {
      return e;
    }
  }

  /** Zeros for every intervention parameter the graph reads (a probe's run: its prompt has no positions). */
  #noIntervention(): InterventionFeed | undefined {
    if (!this.interventions.length) return undefined;
    const inputs = new Set(this.session.inputNames);
    return {
      params: this.interventions.map((s, j) =>
        Object.fromEntries(
          PARAMS[s.type]
            .filter((p) => inputs.has(`iv${j}.${p.name}`))
            .map((p) => {
              const shape = p.shape(s.embedDim, s.rank);
              return [p.name, { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape }];
            }),
        ),
      ),
      locations: [this.interventions.map(() => [])],
    };
  }

  /**
   * A generator sharing an existing ReFT session (training/evaluation/generation in one graph);
   * `decoding`: the decoding loop its graph has (decodingOf), none by default.
   */
  static over(
    spec: ModelSpec,
    session: EngineSession,
    interventions: InterventionSpec[],
    decoding: Decoding = NO_LOOP,
  ): Generator {
    return new Generator(spec, session, interventions, decoding);
  }

  async generate(prompts: number[][], opts: GenerateOptions = {}): Promise<GenerateResult> {
    const B = prompts.length;
    if (B === 0) throw new ConfigError('empty-batch', 'no prompts to generate from');
    if (prompts.some((p) => p.length === 0)) throw new ConfigError('empty-prompt', 'a prompt has no tokens');
    if (this.interventions.length && !opts.interventions)
      throw new ConfigError(
        'missing-adapter',
        'this generator was built for an adapter: pass its parameters',
      );
    const { numLayers: L, numKvHeads: K, headDim: E } = this.spec;
    const maxNew = opts.maxNewTokens ?? this.spec.generation.maxNewTokens ?? 128;
    const eos = new Set(opts.eosTokenIds ?? this.spec.eosTokenIds);
    const rng = mulberry32(opts.seed ?? 0);
    const T = Math.max(...prompts.map((p) => p.length));
    const sw = this.spec.slidingWindow;
    if (sw && !sw.layers.every(Boolean) && T + maxNew - 1 > sw.size)
      throw new ConfigError(
        'sliding-window-mixed',
        `this model mixes sliding-window (${sw.size} tokens) and full-attention layers; generating past ${sw.size} tokens of prompt and output is not supported (prompt ${T}, max new tokens ${maxNew})`,
      );

    // Prefill: left padding so every row's last prompt token sits at the same column.
    const ids = new BigInt64Array(B * T);
    const mask: number[][] = prompts.map((p) => [...Array(T - p.length).fill(0), ...Array(p.length).fill(1)]);
    const pos = new BigInt64Array(B * T);
    prompts.forEach((p, r) => {
      const pad = T - p.length;
      p.forEach((id, t) => {
        ids[r * T + pad + t] = BigInt(id);
        pos[r * T + pad + t] = BigInt(t);
      });
    });
    const feeds: Record<string, ort.Tensor> = {
      train: new ort.Tensor('bool', [false], []),
      last_only: new ort.Tensor('bool', [true], []),
      labels: new ort.Tensor('int64', new BigInt64Array(B).fill(-100n), [B, 1]),
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: maskTensor(mask),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
    };
    const cache: Cache = this.session.outputsOnDevice.has('present_key.0')
      ? new DeviceKvCache(L, B, K, E)
      : new KvCache(L, B, K, E);
    cache.feed(feeds);
    this.#feedInterventions(feeds, opts.interventions, prompts, T, false);

    const out: number[][] = prompts.map(() => []);
    const done: (FinishReason | null)[] = prompts.map(() => null);
    const seen = prompts.map((p) => [...p]);
    const lastPos = prompts.map((p) => p.length - 1);
    const greedy = !!opts.greedy || opts.temperature === 0;
    const chunk = this.chunkSize(opts);
    const loop = this.session.inputNames.includes('chunk_steps');
    if (loop) Object.assign(feeds, chunkFeeds(B, 0, null, done, eos, opts, greedy));
    // One uniform number per row per token, drawn in token-then-row order for every row (finished
    // ones too), so in-graph sampling (chunk_uniforms) and this loop consume the same sequence.
    const uniforms = (n: number): Float32Array | null =>
      greedy ? null : Float32Array.from({ length: n * B }, () => rng());
    const accept = (r: number, id: number): void => {
      out[r].push(id);
      seen[r].push(id);
      newTokens++;
      opts.onToken?.(r, id);
      if (eos.has(id)) done[r] = 'eos';
      else if (opts.shouldStop?.(r, out[r])) done[r] = 'stop';
    };
    let t0 = performance.now();
    let prefillMs = 0;
    let newTokens = 0;
    try {
      for (let step = 0; step < maxNew; ) {
        if (opts.signal?.aborted) throw new CancelledError('generation cancelled');
        // After the prompt: `n` tokens per run, the in-graph loop sampling them.
        const n = step > 0 && chunk > 1 ? Math.min(chunk, maxNew - step) : 1;
        const u = uniforms(n);
        if (step > 0 && loop) Object.assign(feeds, chunkFeeds(B, n > 1 ? n : 0, u, done, eos, opts, greedy));
        const res = await runSession(this.session, feeds, [
          ...cache.fetches('new'),
          ...(n > 1 ? [...cache.fetches('chunk'), 'chunk_tokens'] : []),
        ]);
        // The loop stops early once every row has ended: count what it made.
        const got = n > 1 ? res.chunk_tokens.dims[0] : 1;
        cache.append(res, step === 0 ? T : 1, 'new');
        if (got > 1) cache.append(res, got - 1, 'chunk');
        if (step === 0) {
          prefillMs = performance.now() - t0;
          t0 = performance.now();
        }
        const tokens: number[][] = []; // per token of this run, per row
        if (n > 1) {
          const ct = res.chunk_tokens.data as BigInt64Array;
          for (let s = 0; s < got; s++) tokens.push(Array.from(ct.subarray(s * B, (s + 1) * B), Number));
        } else {
          const logits = res.logits.data as Float32Array;
          const V = logits.length / B;
          tokens.push(
            prompts.map((_, r) =>
              done[r] ? -1 : sample(logits.subarray(r * V, (r + 1) * V), opts, seen[r], () => u?.[r] ?? 0),
            ),
          );
        }
        for (const row of tokens) {
          for (let r = 0; r < B; r++) if (!done[r]) accept(r, row[r]);
          step++;
          if (done.every((d) => d)) break;
        }
        if (done.every((d) => d) || step >= maxNew) break;
        // The next run: the last token, the grown mask, the next position and the cache. A chunk's
        // loop already put all but its last token into the cache.
        for (let k = 0; k < tokens.length; k++) {
          for (const m of mask) m.push(1);
          for (let r = 0; r < B; r++) lastPos[r]++;
        }
        const next = BigInt64Array.from(prompts, (_, r) => BigInt(out[r][out[r].length - 1] ?? 0));
        feeds.input_ids = new ort.Tensor('int64', next, [B, 1]);
        feeds.attention_mask = maskTensor(
          mask,
          cache.capacity ?? undefined,
          this.#decodingWindow(mask[0].length),
        );
        feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(lastPos, BigInt), [B, 1]);
        cache.feed(feeds);
        this.#feedInterventions(feeds, opts.interventions, prompts, 1, true);
      }
    } finally {
      cache.release();
    }
    const finishReasons = done.map((d) => d ?? 'length');
    return {
      tokens: out,
      finishReasons,
      promptTokens: prompts.reduce((s, p) => s + p.length, 0),
      newTokens,
      prefillMs,
      decodeMs: performance.now() - t0,
    };
  }

  /**
   * Tokens per run after the prompt: GenerateOptions.chunk (default 8, CUDA 16, WebGPU 1) when this session has the
   * decoding loop and the loop can do what was asked; 1 otherwise (the repetition penalty is applied
   * here, and sliding windows are masked here). Public for the decode bench, which reports it.
   */
  chunkSize(opts: GenerateOptions): number {
    if (!this.session.inputNames.includes('chunk_steps')) return 1;
    if (opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1) return 1;
    if (this.spec.slidingWindow) return 1;
    // WebGPU has no Loop kernel: ORT would run the loop on the CPU and copy the cache each token.
    // Its cache stays on the device between runs instead (DeviceKvCache). On CUDA every run copies
    // the whole cache to the GPU (run() copies its inputs): 16 tokens a run halve that (at 500
    // tokens/s a chunk still streams every 32 ms).
    const byDevice = this.session.device === 'webgpu' ? 1 : this.session.device === 'cuda' ? 16 : 8;
    return Math.max(1, Math.floor(opts.chunk ?? byDevice));
  }

  /**
   * The sliding window the decoding mask applies (the graph applies it only without a past). One
   * mask serves every layer, so a model mixing windowed and full layers decodes only within the
   * window (checked before generating).
   */
  #decodingWindow(n: number): number | undefined {
    const sw = this.spec.slidingWindow;
    return sw && n > sw.size ? sw.size : undefined;
  }

  #feedInterventions(
    feeds: Record<string, ort.Tensor>,
    iv: InterventionFeed | undefined,
    prompts: number[][],
    T: number,
    decoding: boolean,
  ): void {
    if (!this.interventions.length || !iv) return;
    const B = prompts.length;
    const inputs = new Set(this.session.inputNames);
    this.interventions.forEach((s, j) => {
      for (const [name, p] of Object.entries(iv.params[j]))
        feeds[`iv${j}.${name}`] = new ort.Tensor('float32', p.data, p.shape);
      if (s.scalable)
        feeds[`iv${j}.scale`] = new ort.Tensor('float32', Float32Array.of(iv.scales?.[j] ?? 1), []);
      const P = decoding ? 0 : Math.max(0, ...iv.locations.map((row) => row[j]?.length ?? 0));
      // A training session with dropout (a run's probe prompts answer on it) reads a keep-mask:
      // everything kept, as its forward passes feed it.
      if (inputs.has(`iv${j}.dropout_mask`))
        feeds[`iv${j}.dropout_mask`] = new ort.Tensor(
          'float32',
          new Float32Array(B * P * s.embedDim).fill(1),
          [B, P, s.embedDim],
        );
      if (decoding) {
        feeds[`iv${j}.loc`] = new ort.Tensor('int64', new BigInt64Array(0), [B, 0]);
        return;
      }
      const loc = new BigInt64Array(B * P).fill(-1n);
      prompts.forEach((p, r) => {
        const pad = T - p.length;
        (iv.locations[r]?.[j] ?? []).forEach((x, k) => {
          loc[r * P + k] = x < 0 ? -1n : BigInt(x + pad);
        });
      });
      feeds[`iv${j}.loc`] = new ort.Tensor('int64', loc, [B, P]);
    });
  }
}

/**
 * Whether a session that generates on `device` should carry the decoding loop: where every run()
 * copies its inputs and outputs between host and GPU (CUDA), several tokens a run move the cache
 * once a chunk and the fused step cuts the kernel launches a token. On the CPU decoding is bound by
 * reading the weights (both run at the same speed, README) and a token a run streams finer; WebGPU
 * keeps the cache on the GPU instead; DirectML and Core ML have no Loop kernels.
 */
export function decodeLoopPays(device: DeviceChoice | undefined): Promise<boolean> {
  return runsOnCuda(device);
}

/**
 * Whether a graph of `spec` whose sessions run on CUDA (`cuda`) or the CPU may carry the decoding
 * loop at all. Not for a quantized base on the CPU: ORT does not pre-pack the Loop body's
 * MatMulNBits, whose int8 kernels then dequantize every weight per token (measured, 4-layer
 * TinyLlama shape at int4: 2083 ms/token in the loop, 57 ms one token per run). CUDA's MatMulNBits
 * reads the codes as stored (its fp16/bf16 GEMM's pre-packed layout aside), and a token per run
 * there would copy the whole KV cache both ways: quantized bases keep the loop (not yet timed on a
 * GPU: the GPU check's bench-1b times it beside --chunk 1).
 */
export function decodeLoopFits(spec: ModelSpec, cuda: boolean): boolean {
  return cuda || !spec.base?.scheme;
}

/**
 * A session built with the decoding loop for CUDA that fell back to the CPU (CUDA's libraries found
 * but failing to start: a driver too old for them, say), over a quantized base the CPU should not
 * loop over (decodeLoopFits): released, so the caller opens the graph again without the loop.
 */
export async function loopFellBack(spec: ModelSpec, loop: boolean, session: EngineSession): Promise<boolean> {
  if (!loop || session.device !== 'cpu' || decodeLoopFits(spec, false)) return false;
  await session.session.release();
  return true;
}

/** The decoding loop a generation graph carries: which body a single prompt runs, and its nodes. */
export interface Decoding {
  /** A single prompt decodes with the fused step; otherwise fusedDecodeProblem says why not. */
  fused: boolean;
  /** Nodes a token of a single prompt runs in the loop, or null without a loop. */
  loopNodes: number | null;
}

const NO_LOOP: Decoding = { fused: false, loopNodes: null };

/** The Decoding of a graph built by buildReftGraph with these decodeLoop / fusedDecode options. */
export function decodingOf(g: Graph, decodeLoop: boolean, fused: boolean): Decoding {
  if (!decodeLoop) return NO_LOOP;
  return { fused, loopNodes: decodeLoopNodes(g, fused ? 'fused_decode_step' : 'decode_step') };
}

/**
 * Opens a generation session whose graph has the decoding loop, with the fused step where it applies
 * (fusedDecodeProblem). The fused step's contrib kernels are checked on the CPU by the tests; on a
 * GPU a build without them (or without the attention kernels they call) must cost speed, not
 * generation: a session that does not start with it, or whose first chunk fails, is opened again
 * without it, with a notice. `generatorOf` gives the opened session's generator (for the check).
 */
export async function openWithFusedDecoding<T>(
  spec: ModelSpec,
  opts: { device?: DeviceChoice; requireDevice?: boolean; onNotice?: Notify },
  open: (fused: FusedStepOptions | null, requireDevice?: boolean) => Promise<T>,
  generatorOf: (t: T) => Generator,
): Promise<T> {
  if ((await fusedDecodeProblem(spec, opts.device)) !== null) return open(null);
  const fallBack = (e: unknown) => {
    opts.onNotice?.(
      `the fused decoding step did not run (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); decoding with the general decoder`,
      'warn',
    );
    return open(null);
  };
  let t: T;
  try {
    // On CUDA the fused graph must start there: not a CPU session because of it.
    const cuda = await runsOnCuda(opts.device);
    t = await open(fusedStepOptions(cuda ? 'cuda' : 'cpu'), opts.requireDevice || cuda);
  } catch (e) {
    if (!(e instanceof OrtError) || e.code === 'out-of-memory') throw e;
    // The provider itself did not start: the general graph's attempt says so (and falls back).
    if (e.code === 'provider-failed' || e.code === 'provider-unavailable') return open(null);
    return fallBack(e);
  }
  const gen = generatorOf(t);
  if (gen.session.device === 'cpu') return t;
  const failed = await gen.probeFused();
  if (!failed) return t;
  await gen.session.session.release();
  return fallBack(failed);
}

/**
 * Why a single prompt will not decode with the fused step (fused-step.ts) on `device`, or null.
 * REFT_STUDIO_FUSED_DECODE=0 turns it off (to compare both bodies: scripts/gpu-check.sh).
 */
export async function fusedDecodeProblem(
  spec: ModelSpec,
  device: DeviceChoice | undefined,
): Promise<string | null> {
  if (process.env.REFT_STUDIO_FUSED_DECODE === '0') return 'REFT_STUDIO_FUSED_DECODE=0';
  const d = requestedDevice(device);
  // WebGPU decodes a token per run (no Loop kernel); DirectML and Core ML have no contrib kernels.
  if (d !== 'cpu' && d !== 'cuda' && d !== 'auto') return `${d} decodes without the fused step`;
  return fusedStepProblem(spec, (await runsOnCuda(device)) ? 'cuda' : 'cpu');
}

/**
 * The attention mask (B, S) for a pass. `mask` rows cover every token so far (cached ones, then the
 * newest); with a cache of `capacity` slots the newest token sits after the whole capacity and the
 * slots not yet filled are masked out, as are cached tokens outside a sliding `window`.
 */
function maskTensor(mask: number[][], capacity?: number, window?: number): ort.Tensor {
  const B = mask.length,
    n = mask[0].length;
  const S = capacity === undefined ? n : capacity + 1;
  const first = window === undefined ? 0 : Math.max(0, n - window); // oldest column the newest sees
  const d = new BigInt64Array(B * S);
  mask.forEach((m, r) => {
    for (let s = first; s < n - 1; s++) d[r * S + s] = BigInt(m[s]);
    d[r * S + S - 1] = BigInt(m[n - 1]);
  });
  return new ort.Tensor('int64', d, [B, S]);
}

/**
 * The key/value cache, kept here rather than round-tripped through ONNX Runtime: each pass returns only
 * its own keys/values (new_key.i, new_value.i), appended into per-layer buffers of `capacity` slots that
 * are fed back whole as the past (unused slots masked out by maskTensor). onnxruntime-node copies every
 * output into a new JavaScript buffer, so returning the grown cache each step cost a full copy per step
 * and piled up tens of MB of garbage on a 64-token generation of the 31.6M bench model.
 */
interface Cache {
  /** Slots the past is fed at (unused ones masked out), or null when the past is fed at its length. */
  readonly capacity: number | null;
  /** What to fetch for the graph's own pass ('new') or for a decoding loop's tokens ('chunk'). */
  fetches(part: 'new' | 'chunk'): string[];
  feed(feeds: Record<string, ort.Tensor>): void;
  /** Takes n tokens' keys/values: the pass's (new_key.i …) or the loop's (chunk_new_key.i …). */
  append(res: Record<string, ort.Tensor>, n: number, part: 'new' | 'chunk'): void;
  release(): void;
}

class KvCache implements Cache {
  capacity = 0;
  #len = 0;
  #slots: Float32Array[] = []; // key.0, value.0, key.1, … each (B, K, capacity, E)

  constructor(
    private readonly layers: number,
    private readonly B: number,
    private readonly K: number,
    private readonly E: number,
  ) {}

  fetches(part: 'new' | 'chunk'): string[] {
    const p = part === 'new' ? 'new_' : 'chunk_new_';
    const names = Array.from({ length: this.layers }, (_, i) => [`${p}key.${i}`, `${p}value.${i}`]).flat();
    return part === 'new' ? ['logits', ...names] : names;
  }

  feed(feeds: Record<string, ort.Tensor>): void {
    const shape = [this.B, this.K, this.capacity, this.E];
    for (let i = 0; i < this.layers; i++) {
      feeds[`past_key.${i}`] = new ort.Tensor('float32', this.#slots[2 * i] ?? new Float32Array(0), shape);
      feeds[`past_value.${i}`] = new ort.Tensor(
        'float32',
        this.#slots[2 * i + 1] ?? new Float32Array(0),
        shape,
      );
    }
  }

  release(): void {
    this.#slots = [];
  }

  /** Appends a pass's n new tokens per row, growing by half again (in 64-token blocks) when full. */
  append(res: Record<string, ort.Tensor>, n: number, part: 'new' | 'chunk'): void {
    const { B, K, E } = this;
    const p = part === 'new' ? 'new_' : 'chunk_new_';
    const need = this.#len + n;
    if (need > this.capacity) {
      const cap = Math.ceil(Math.max(need, this.capacity * 1.5) / 64) * 64;
      this.#slots = Array.from({ length: 2 * this.layers }, (_, j) => {
        const grown = new Float32Array(B * K * cap * E);
        const old = this.#slots[j];
        if (old)
          for (let bk = 0; bk < B * K; bk++)
            grown.set(
              old.subarray(bk * this.capacity * E, (bk * this.capacity + this.#len) * E),
              bk * cap * E,
            );
        return grown;
      });
      this.capacity = cap;
    }
    for (let i = 0; i < this.layers; i++) {
      for (const [j, name] of [
        [2 * i, `${p}key.${i}`],
        [2 * i + 1, `${p}value.${i}`],
      ] as const) {
        const src = res[name].data as Float32Array;
        const dst = this.#slots[j];
        for (let bk = 0; bk < B * K; bk++)
          dst.set(src.subarray(bk * n * E, (bk + 1) * n * E), (bk * this.capacity + this.#len) * E);
      }
    }
    this.#len = need;
  }
}

/**
 * The cache on a WebGPU device: each pass returns the whole grown cache (present_key.i, …) as GPU
 * buffers (the session's preferredOutputLocation), fed back unchanged as the next pass's past; the
 * host never sees it. The previous pass's buffers are released as soon as the next pass made new ones.
 */
class DeviceKvCache implements Cache {
  readonly capacity = null;
  #past: ort.Tensor[] = [];
  #empty: ort.Tensor;

  constructor(
    private readonly layers: number,
    B: number,
    K: number,
    E: number,
  ) {
    this.#empty = new ort.Tensor('float32', new Float32Array(0), [B, K, 0, E]);
  }

  feed(feeds: Record<string, ort.Tensor>): void {
    for (let i = 0; i < this.layers; i++) {
      feeds[`past_key.${i}`] = this.#past[2 * i] ?? this.#empty;
      feeds[`past_value.${i}`] = this.#past[2 * i + 1] ?? this.#empty;
    }
  }

  fetches(part: 'new' | 'chunk'): string[] {
    const p = part === 'new' ? 'present_' : 'chunk_present_';
    const names = Array.from({ length: this.layers }, (_, i) => [`${p}key.${i}`, `${p}value.${i}`]).flat();
    return part === 'new' ? ['logits', ...names] : names;
  }

  /** The whole cache after the pass (present_*), replaced by the loop's (chunk_present_*) if it ran. */
  append(res: Record<string, ort.Tensor>, _n: number, part: 'new' | 'chunk'): void {
    const p = part === 'new' ? 'present_' : 'chunk_present_';
    const next = Array.from({ length: this.layers }, (_, i) => [
      res[`${p}key.${i}`],
      res[`${p}value.${i}`],
    ]).flat();
    if (next.some((t) => t.location !== 'gpu-buffer'))
      throw new OrtError(
        'cache-not-on-device',
        'the KV cache came back to the host; the session should keep it on the GPU',
      );
    this.release();
    this.#past = next;
  }

  release(): void {
    for (const t of this.#past) t.dispose();
    this.#past = [];
  }
}

/** The decoding loop's inputs for a run that decodes no chunk (a training or evaluation pass). */
export function idleChunkFeeds(B: number): Record<string, ort.Tensor> {
  return chunkFeeds(B, 0, null, Array(B).fill(null), new Set(), {}, true);
}

/** The decoding loop's inputs (decode-loop.ts): n tokens (0: none), their uniforms, the stop state. */
function chunkFeeds(
  B: number,
  n: number,
  u: Float32Array | null,
  done: (FinishReason | null)[],
  eos: Set<number>,
  opts: GenerateOptions,
  greedy: boolean,
): Record<string, ort.Tensor> {
  const rows = Math.max(1, n);
  const ids = eos.size ? [...eos] : [-1];
  return {
    chunk_steps: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), []),
    chunk_uniforms: new ort.Tensor('float32', u && u.length === rows * B ? u : new Float32Array(rows * B), [
      rows,
      B,
    ]),
    chunk_greedy: new ort.Tensor('bool', [greedy], []),
    chunk_temperature: new ort.Tensor('float32', Float32Array.of(greedy ? 1 : (opts.temperature ?? 1)), []),
    chunk_top_k: new ort.Tensor(
      'int64',
      BigInt64Array.of(BigInt(Math.max(0, Math.floor(opts.topK ?? 0)))),
      [],
    ),
    chunk_top_p: new ort.Tensor('float32', Float32Array.of(opts.topP ?? 1), []),
    chunk_eos: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [ids.length]),
    chunk_done: new ort.Tensor(
      'bool',
      done.map((d) => !!d),
      [B],
    ),
  };
}
