// The base model in the form a run asks for: `--quantize none|int8|int4` → a ModelSpec whose weights
// the graph builders read in that form (ModelSpec.base), converting once into the data folder's
// store when needed (store.ts). Every command and job that loads a model for the engine goes through
// prepareBase, so a form is converted once and then shared by every session and process.
//
//   none + fp32 checkpoint      the checkpoint's files, read in place (nothing converted)
//   none + fp16/bf16 on CPU     one fp32 store (ORT's CPU provider has no half-precision matrix
//                               products; the alternative, a Cast in the graph, is a private fp32
//                               copy per session)
//   none + fp16/bf16 elsewhere  the checkpoint's files, cast in the graph (GPU providers)
//   int8 / int4                 the quantized store

import { totalmem } from 'node:os';
import { join } from 'node:path';
import { byteSize } from '../byte-size.ts';
import { ConfigError } from '../errors.ts';
import type { ModelSpec } from '../models/config.ts';
import { ensureBackwardStore } from './backward-store.ts';
import { type BaseWeights, formInWords, parseQuantize, type QuantScheme, schemeName } from './scheme.ts';
import {
  type ConversionProgress,
  type ConvertOptions,
  ensureStore,
  openStore,
  storeMatrices,
} from './store.ts';

export interface PrepareBaseOptions {
  /** The data folder; stores live in `<dataDir>/bases`. */
  dataDir: string;
  /** The device the sessions will run on (half-precision files stay in place off the CPU). */
  device?: string;
  onProgress?: (p: ConversionProgress) => void;
  signal?: AbortSignal;
  /** Writes some store tensors from another source (synthetic models; see store.ts ConvertOptions). */
  produce?: ConvertOptions['produce'];
}

export const basesRoot = (dataDir: string): string => join(dataDir, 'bases');

const SHORT: Record<ModelSpec['dtype'], string> = { float32: 'fp32', float16: 'fp16', bfloat16: 'bf16' };

/** True when every weight of the checkpoint is stored as F32 (nothing to widen). */
function allF32(spec: ModelSpec): boolean {
  return spec.weights.headers.every((h) => [...h.tensors.values()].every((t) => t.dtype === 'F32'));
}

/**
 * Whether the base is prepared for the CPU on `device` (none named, 'cpu' or 'auto'): there a
 * half-precision checkpoint is read from its float32 store, elsewhere cast in the graph.
 */
export const baseOnCpu = (device: string | undefined): boolean =>
  !device || device === 'cpu' || device === 'auto';

/** `spec` as the engine should read it in `scheme` (null: none), converting into the store if needed. */
export async function prepareBase(
  spec: ModelSpec,
  scheme: QuantScheme | null,
  o: PrepareBaseOptions,
): Promise<ModelSpec> {
  if (spec.base) return spec;
  const onCpu = baseOnCpu(o.device);
  if (!scheme && (allF32(spec) || !onCpu)) return inPlace(spec);
  const dir = await ensureStore(spec, scheme, {
    root: basesRoot(o.dataDir),
    onProgress: o.onProgress,
    signal: o.signal,
    produce: o.produce,
  });
  return withStore(spec, scheme, dir, !onCpu);
}

/** `spec` reading the checkpoint's own files (half precision cast in the graph, per session). */
function inPlace(spec: ModelSpec): ModelSpec {
  return { ...spec, base: { form: allF32(spec) ? 'fp32' : SHORT[spec.dtype], scheme: null, dir: null } };
}

/** `spec` reading the complete store in `dir` (on a GPU provider: `onGpu`). */
export function withStore(
  spec: ModelSpec,
  scheme: QuantScheme | null,
  dir: string,
  onGpu = false,
): ModelSpec {
  const base: BaseWeights = { form: scheme ? schemeName(scheme) : 'fp32', scheme, dir };
  if (onGpu && scheme) base.onGpu = true;
  return { ...spec, weights: openStore(dir), base };
}

/** The base form a spec is read in ('fp32' for a plain fp32 checkpoint). */
export function baseForm(spec: ModelSpec): string {
  return spec.base?.form ?? (allF32(spec) ? 'fp32' : SHORT[spec.dtype]);
}

/**
 * Whether a session on `spec` should let ONNX Runtime pre-pack its weights. Float bases never do
 * (a private copy per session; their weights stay mapped and shared). Quantized bases do for
 * inference: MatMulNBits' int8-compute kernels run only on their packed layout (≈1.2× the codes,
 * private to the session). Training sessions do when the base was prepared for it (prepareBaseLogged
 * with `training`: the transposed backward layout, packed too); otherwise they read the mapped codes
 * only (one copy shared by every session) and MatMulNBits dequantizes each weight per call: slower.
 */
export function shouldPrepack(spec: ModelSpec, o: { training: boolean; override?: boolean }): boolean {
  if (!spec.base?.scheme) return false;
  if (o.override !== undefined) return o.override;
  return !o.training || spec.base.backward === 'transposed';
}

/**
 * Resident bytes of a packed training session on `spec`'s store: the forward codes packed (≈1.2×),
 * Ŵᵀ's int8 codes packed (≈1.14×), the LM head's codes mapped (its gradient dequantizes them).
 * The same accounting as memory.ts's estimates.
 */
export function packedTrainingBytes(spec: ModelSpec): number {
  let forward = 0;
  let head = 0;
  for (const h of spec.weights.headers)
    for (const t of h.tensors.values()) {
      if (!/\.(qweight|scales|qzeros)$/.test(t.name)) continue;
      if (t.name.startsWith('lm_head.')) head += t.byteLength;
      else forward += t.byteLength;
    }
  let transposed = 0;
  for (const [name, [N, K]] of Object.entries(storeMatrices(spec.weights)))
    if (name !== 'lm_head.weight') transposed += N * K * (1 + 4 / 32);
  return 1.2 * forward + 1.14 * transposed + head;
}

/**
 * prepareBase for a job that logs in lines (training, the engine's workers): `quantize` as the
 * options spell it, conversion progress every 10%, and a clear refusal when a conversion is needed
 * but no data folder was given (the engine API used without a library).
 */
export async function prepareBaseLogged(
  spec: ModelSpec,
  quantize: string,
  o: {
    dataDir?: string;
    device?: string;
    signal?: AbortSignal;
    log?: (m: string) => void;
    /**
     * A conversion begins (or one a stopped process left is taken over): the base's, then a training
     * session's backward layout, each before its first progress line. Not called where the store
     * is complete already.
     */
    onConversion?: () => void;
    /**
     * For a training session: pack (with the transposed backward layout, written once) when that
     * fits in a third of the machine's memory — room left for activations, the studio and the user's
     * other programs — else read the mapped codes only. `pack` forces the choice.
     */
    training?: boolean;
    pack?: boolean;
    totalMemory?: number;
  },
): Promise<ModelSpec> {
  const scheme = parseQuantize(quantize);
  const needsStore = !!scheme || (!allF32(spec) && baseOnCpu(o.device));
  // Without a data folder a half-precision checkpoint is cast in the graph (a copy per session).
  if (!needsStore || (!scheme && !o.dataDir)) return spec.base ? spec : inPlace(spec);
  if (!o.dataDir)
    throw new ConfigError(
      'no-data-folder',
      `the ${scheme ? schemeName(scheme) : 'fp32'} form of this model must be converted into a data folder, and none was given`,
    );
  // A line at the start, at every tenth and at the end.
  let shown = -1;
  const onProgress = (p: ConversionProgress) => {
    if (shown === -1) o.onConversion?.();
    if (shown === -1 && p.takenOverFrom !== undefined) o.log?.(takenOverLine(p.takenOverFrom));
    const pct = Math.floor((10 * p.doneBytes) / p.totalBytes) * 10;
    if (pct === shown) return;
    shown = pct;
    o.log?.(`${conversionLabel(p)}: ${pct}% of ${byteSize(p.totalBytes)}`);
  };
  const base = await prepareBase(spec, scheme, {
    dataDir: o.dataDir,
    device: o.device,
    signal: o.signal,
    onProgress,
  });
  if (!o.training) return base;
  shown = -1;
  return prepareTraining(base, { ...o, onProgress });
}

/** Said once when a conversion a killed process left half done is continued (its lock taken over). */
export function takenOverLine(pid: number): string {
  return `a conversion left by a stopped process (pid ${pid}) is taken over and continued`;
}

/**
 * What a conversion is doing, in words (the CLI's lines and bar, the studio's notices): "converting
 * the base weights to 8 bits"; a training's backward layout (backward-store.ts) is "… for training (an
 * 8-bit transposed copy)", whatever the base's own bits.
 */
export function conversionLabel(p: Pick<ConversionProgress, 'form' | 'backward'>): string {
  return p.backward
    ? 'converting the base weights for training (an 8-bit transposed copy)'
    : `converting the base weights to ${formInWords(p.form)}`;
}

/**
 * A prepared quantized spec made ready for training sessions: packed, with the transposed backward
 * layout written once (backward-store.ts), when that fits in a third of the machine's memory (room
 * left for activations, the studio and the user's other programs) or `pack` says so; else reading
 * the mapped codes only (the gradient dequantizes them). Float specs are returned as they are.
 */
export async function prepareTraining(
  base: ModelSpec,
  o: {
    pack?: boolean;
    totalMemory?: number;
    signal?: AbortSignal;
    log?: (m: string) => void;
    onProgress?: (p: ConversionProgress) => void;
  } = {},
): Promise<ModelSpec> {
  const b = base.base;
  if (!b?.scheme || !b.dir || b.backward) return base;
  const pack = o.pack ?? packedTrainingBytes(base) <= (o.totalMemory ?? totalmem()) / 3;
  if (!pack) {
    o.log?.(
      `training reads the base weights (${formInWords(b.form)}) as they are, without a transposed copy for the backward (the copy would take ${byteSize(packedTrainingBytes(base))}): slower, one shared copy`,
    );
    return { ...base, base: { ...b, backward: 'dequantize' } };
  }
  await ensureBackwardStore(base, { signal: o.signal, onProgress: o.onProgress });
  return { ...base, weights: openStore(b.dir), base: { ...b, backward: 'transposed' } };
}
