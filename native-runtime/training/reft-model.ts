// A frozen model with a set of interventions and their current parameters, on one ORT session
// (reft-graph.ts). It runs forward passes (logits, loss), loss-and-gradient passes and generation.
// R-based interventions keep R on the Stiefel manifold through the Householder trivialization
// (stiefel.ts): the graph sees R itself; the trainer updates X.

import { totalmem } from 'node:os';
import { ConfigError, OrtError } from '../errors.ts';
import type { PyreftAdapter, PyreftIntervention } from '../formats/pyreft.ts';
import type { FusedStepOptions } from '../generation/fused-step.ts';
import {
  type Decoding,
  decodeLoopFits,
  decodingOf,
  Generator,
  idleChunkFeeds,
  loopFellBack,
  openWithFusedDecoding,
} from '../generation/generator.ts';
import { type ActivationName, type InterventionSpec, PARAMS } from '../interventions/kinds.ts';
import type { ModelSpec } from '../models/config.ts';
import { cacheOutputs } from '../models/decoder.ts';
import type { Notify } from '../notices.ts';
import { shouldPrepack } from '../quantize/base.ts';
import { residentWeightBytes } from '../quantize/memory.ts';
import { schemeName } from '../quantize/scheme.ts';
import { runGpuMemoryBytes } from '../runtime/precision.ts';
import {
  createSession,
  type DeviceChoice,
  type EngineSession,
  ort,
  runSession,
  runsOnCuda,
  runsOnWebgpu,
} from '../runtime/session.ts';
import { shouldRecompute } from './recompute.ts';
import { buildReftGraph } from './reft-graph.ts';
import { DenseBase, HouseholderParam } from './stiefel.ts';

export interface ParamTensor {
  data: Float32Array;
  shape: number[];
}

export interface InterventionState {
  spec: InterventionSpec;
  /** Parameters by kinds.ts name; `rotate_layer` is R itself (derived from `rot` when present). */
  params: Map<string, ParamTensor>;
  rot: HouseholderParam | null;
  /** Whether X and base came from the adapter file (pyreft's own trivialization) or were derived from R. */
  rotFromFile?: boolean;
  /** α fed as `iv{j}.scale` when the spec is `scalable` (default 1); adapter composition sets it. */
  scale?: number;
}

/** A batch in the graph's layout. Locations: per intervention, (B, P) positions, −1 = none. */
export interface ReftBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  labels?: BigInt64Array;
  /** Default 0…T−1 on every row (training layout). */
  positionIds?: BigInt64Array;
  dims: [number, number];
  locations: Array<{ data: BigInt64Array; P: number }>;
  /** Per intervention, a (B, P, n) keep-mask scaled by 1/(1−p); training with dropout only. */
  dropoutMasks?: Array<Float32Array | null>;
}

export interface GradResult {
  loss: number;
  /** Per intervention: gradient by parameter name (rotate_layer = dL/dR). */
  grads: Map<string, Float32Array>[];
}

/** Converts an imported pyreft adapter into engine state (R from the file; X and base kept when stored). */
export function statesFromPyreft(
  adapter: PyreftAdapter,
  opts: { act?: ActivationName; dropout?: number } = {},
): InterventionState[] {
  return adapter.interventions.map((iv: PyreftIntervention) => {
    const spec: InterventionSpec = {
      key: iv.key,
      layer: iv.layer,
      type: iv.type,
      rank: iv.rank,
      embedDim: iv.embedDim,
      act: (opts.act ?? (adapter.sidecar?.activation as ActivationName | null) ?? 'linear') || 'linear',
      dropout: opts.dropout ?? 0,
    };
    const params = new Map<string, ParamTensor>();
    for (const d of PARAMS[iv.type]) {
      const src = iv.params[d.name === 'rotate_layer' ? 'R' : d.name];
      const shape = d.shape(iv.embedDim, iv.rank);
      // NodiReFT/NoReFT without add_bias have no proj_layer.bias: it is zero (and unused by NodiReFT).
      params.set(
        d.name,
        src
          ? { data: Float32Array.from(src.data), shape }
          : { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape },
      );
    }
    let rot: HouseholderParam | null = null;
    if (params.has('rotate_layer')) {
      const n = iv.embedDim,
        r = iv.rank;
      rot = iv.householder
        ? new HouseholderParam(
            n,
            r,
            Float32Array.from(iv.householder.original.data),
            new DenseBase(n, Float64Array.from(iv.householder.base.data)),
          )
        : HouseholderParam.fromR(params.get('rotate_layer')!.data, n, r);
      params.get('rotate_layer')!.data = rot.forward();
    }
    return { spec, params, rot, rotFromFile: !!iv.householder };
  });
}

/** The base's form as quantize/memory.ts counts it: int8/int4, or none (half compute: `half`). */
export const baseFormOf = (spec: ModelSpec): string => schemeName(spec.base?.scheme ?? null);
const halfCompute = (spec: ModelSpec): boolean => !!spec.compute && spec.compute !== 'float32';

export class ReftModel {
  readonly spec: ModelSpec;
  readonly states: InterventionState[];
  readonly session: EngineSession;
  readonly withDropout: boolean;
  /** Whether the training graph replays each layer in its backward (training/recompute.ts). */
  readonly recompute: boolean;

  /** The decoding loop the session's graph has, for its generators. */
  readonly decoding: Decoding;

  private constructor(
    spec: ModelSpec,
    states: InterventionState[],
    session: EngineSession,
    withDropout: boolean,
    recompute: boolean,
    decoding: Decoding,
  ) {
    this.spec = spec;
    this.states = states;
    this.session = session;
    this.withDropout = withDropout;
    this.recompute = recompute;
    this.decoding = decoding;
  }

  static async load(
    spec: ModelSpec,
    states: InterventionState[],
    opts: {
      device?: DeviceChoice;
      requireDevice?: boolean;
      onNotice?: Notify;
      prepack?: boolean;
      /** The run's micro-batch (batch size × max length), which decides layer replay. */
      workload?: { batch: number; tokens: number };
      /**
       * Add the in-graph decoding loop for generation over this session (several tokens per run,
       * the fused step for a single prompt: generation/decode-loop.ts, fused-decoding.ts).
       */
      decodeLoop?: boolean;
    } = {},
  ): Promise<ReftModel> {
    for (const s of states) {
      if (s.spec.layer < 0 || s.spec.layer >= spec.numLayers) {
        throw new ConfigError(
          'layer-out-of-range',
          `intervention ${s.spec.key}: layer ${s.spec.layer} is out of range (the model has layers 0..${spec.numLayers - 1})`,
        );
      }
      if (s.spec.embedDim !== spec.hiddenSize) {
        throw new ConfigError(
          'hidden-size-mismatch',
          `intervention ${s.spec.key}: embed dim ${s.spec.embedDim} ≠ the model's hidden size ${spec.hiddenSize}`,
        );
      }
    }
    const withDropout = states.some((s) => s.spec.dropout > 0 && s.spec.type !== 'consreft');
    // On a GPU the activations live in its memory, so the rule weighs the GPU's size.
    const cuda = await runsOnCuda(opts.device);
    const webgpu = !cuda && (await runsOnWebgpu(opts.device));
    const memory = (await runGpuMemoryBytes({ cuda, webgpu })) ?? totalmem();
    /** Layer replay (training/recompute.ts) for `sp`'s weights and compute dtype in `mem` bytes. */
    const replays = (sp: ModelSpec, mem: number, onGpu: boolean): boolean => {
      if (states.length === 0 || !opts.workload) return false;
      const half = halfCompute(sp);
      return shouldRecompute(sp, mem, {
        ...opts.workload,
        bytesPerValue: half ? 2 : 4,
        weightsBytes: residentWeightBytes({ ...sp, tied: sp.tieEmbeddings }, baseFormOf(sp), 'train', mem, {
          // Uploaded as stored on either GPU (no CPU packing).
          gpu: onGpu,
          half,
        }),
      });
    };
    // The decoding loop (generation/decode-loop.ts) where asked and the base allows it.
    const loopFor = (sp: ModelSpec) => !!opts.decodeLoop && decodeLoopFits(sp, cuda);
    const open = async (
      sp: ModelSpec,
      recompute: boolean,
      fused: FusedStepOptions | null = null,
      requireDevice = opts.requireDevice,
      decodeLoop = loopFor(sp),
    ): Promise<ReftModel> => {
      const g = buildReftGraph(
        sp,
        states.map((s) => s.spec),
        { dropout: withDropout, recompute, decodeLoop, fusedDecode: decodeLoop ? fused : null },
      );
      const session = await createSession(g.graph, {
        device: opts.device,
        requireDevice,
        weightsDir: g.weightsDir,
        onNotice: opts.onNotice,
        // Generation over this session (Generator.over) keeps the KV cache on a WebGPU device.
        outputsOnDevice: cacheOutputs(sp),
        prepack: shouldPrepack(sp, { training: states.length > 0, override: opts.prepack }),
        memPattern: states.length === 0,
      });
      if (await loopFellBack(sp, decodeLoop, session)) return open(sp, recompute, null, requireDevice, false);
      return new ReftModel(
        sp,
        states,
        session,
        withDropout,
        recompute,
        decodingOf(g.graph, decodeLoop, decodeLoop && fused !== null),
      );
    };
    const openFor = (sp: ModelSpec, recompute: boolean) =>
      loopFor(sp)
        ? openWithFusedDecoding(
            sp,
            opts,
            (fused, requireDevice) => open(sp, recompute, fused, requireDevice),
            (m) => m.generator(),
          )
        : open(sp, recompute);
    try {
      return await openFor(spec, replays(spec, memory, cuda || webgpu));
    } catch (e) {
      // Half precision chosen for a GPU that did not start: the CPU fallback runs float32 instead,
      // in the computer's memory (replay decided again for it).
      if (!(spec.computeAuto && e instanceof OrtError && e.code === 'missing-kernel')) throw e;
      const f32: ModelSpec = { ...spec, compute: undefined, computeAuto: undefined };
      opts.onNotice?.(`${spec.compute} has no kernels where the session runs: computing in float32`, 'warn');
      return openFor(f32, replays(f32, totalmem(), false));
    }
  }

  /** Recomputes R from X for every R-based intervention (after an optimizer step). */
  refreshRotations(): void {
    for (const s of this.states) if (s.rot) s.params.get('rotate_layer')!.data = s.rot.forward();
  }

  #feeds(batch: ReftBatch, train: boolean): Record<string, ort.Tensor> {
    const [B, T] = batch.dims;
    const { numLayers: L, numKvHeads: K, headDim: E } = this.spec;
    const pos =
      batch.positionIds ??
      (() => {
        const p = new BigInt64Array(B * T);
        for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) p[i * T + t] = BigInt(t);
        return p;
      })();
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', batch.inputIds, [B, T]),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
      labels: new ort.Tensor('int64', batch.labels ?? new BigInt64Array(B * T).fill(-100n), [B, T]),
      train: new ort.Tensor('bool', [train], []),
      last_only: new ort.Tensor('bool', [false], []),
    };
    const empty = new Float32Array(0);
    for (let i = 0; i < L; i++) {
      feeds[`past_key.${i}`] = new ort.Tensor('float32', empty, [B, K, 0, E]);
      feeds[`past_value.${i}`] = new ort.Tensor('float32', empty, [B, K, 0, E]);
    }
    // A graph with the decoding loop: no chunk (the loop's inputs, idle).
    if (this.decoding.loopNodes !== null) Object.assign(feeds, idleChunkFeeds(B));
    this.states.forEach((s, j) => {
      for (const [name, p] of s.params) feeds[`iv${j}.${name}`] = new ort.Tensor('float32', p.data, p.shape);
      const loc = batch.locations[j];
      if (!loc)
        throw new ConfigError('missing-locations', `no positions given for intervention ${s.spec.key}`);
      feeds[`iv${j}.loc`] = new ort.Tensor('int64', loc.data, [B, loc.P]);
      if (s.spec.scalable)
        feeds[`iv${j}.scale`] = new ort.Tensor('float32', Float32Array.of(s.scale ?? 1), []);
      if (this.withDropout && s.spec.dropout > 0 && s.spec.type !== 'consreft') {
        const m = batch.dropoutMasks?.[j] ?? new Float32Array(B * loc.P * s.spec.embedDim).fill(1);
        feeds[`iv${j}.dropout_mask`] = new ort.Tensor('float32', m, [B, loc.P, s.spec.embedDim]);
      }
    });
    return feeds;
  }

  /** Logits (B, T, V) and, with labels, the loss. */
  async forward(batch: ReftBatch): Promise<{ logits: ort.Tensor; loss: number }> {
    const out = await runSession(this.session, this.#feeds(batch, false), ['logits', 'loss']);
    return { logits: out.logits, loss: (out.loss.data as Float32Array)[0] };
  }

  /** Loss and the gradient of every intervention parameter (dL/dR for rotate_layer). */
  async lossAndGrads(batch: ReftBatch): Promise<GradResult> {
    const fetch = [
      'loss',
      ...this.states.flatMap((s, j) => [...s.params.keys()].map((n) => `grad.iv${j}.${n}`)),
    ];
    const out = await runSession(this.session, this.#feeds(batch, true), fetch);
    const grads = this.states.map((s, j) => {
      const m = new Map<string, Float32Array>();
      for (const n of s.params.keys()) m.set(n, out[`grad.iv${j}.${n}`].data as Float32Array);
      return m;
    });
    return { loss: (out.loss.data as Float32Array)[0], grads };
  }

  /** A generator on this model's session, intervening the prompt pass with the current parameters. */
  generator(): Generator {
    return Generator.over(
      this.spec,
      this.session,
      this.states.map((s) => s.spec),
      this.decoding,
    );
  }

  /** Current parameters in the generator's feed form. */
  paramFeed(): Array<Record<string, { data: Float32Array; shape: number[] }>> {
    return this.states.map((s) => Object.fromEntries(s.params));
  }
}
