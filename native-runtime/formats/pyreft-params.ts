// Adapters in memory, as both adapter formats (pyreft folders, studio adapters) hold them, and the
// shape checks they share. Every intervention keeps canonical parameters (n = embed dim, r = rank):
//   loreft             R (n,r), weight (r,n), bias (r)
//   direft             R, learned_source.weight (r,n), learned_source.bias (r)
//   consreft/lobireft  R, learned_source (r)
//   noreft/nodireft    learned_source.weight, learned_source.bias, proj_layer.weight (r,n),
//                      proj_layer.bias (r, only with add_bias)
// The layouts are not declared here: they come from interventions/kinds.ts (PARAMS), where pyreft's
// `rotate_layer` is R.
// Leaves out: files (pyreft-config.ts, pyreft-bin.ts, pyreft.ts, studio-adapter.ts).

import { FormatError, UnsupportedError } from '../errors.ts';
import { type InterventionType, PARAMS, PYREFT_CLASS } from '../interventions/kinds.ts';
import { CONFIG_LIMITS } from '../models/config-fields.ts';
import type { Precision } from '../runtime/precision-used.ts';

export type { InterventionType };
/** pyreft's class name of each type (declared once, with the engine's interventions). */
export const PYREFT_CLASS_NAMES: Record<InterventionType, string> = PYREFT_CLASS;

export interface ParamTensor {
  shape: number[];
  data: Float32Array;
}

/** torch's parametrization tensors for R, kept from an import so exports reproduce them. */
export interface HouseholderState {
  original: ParamTensor; // (n, r)
  base: ParamTensor; // (n, n)
}

export interface PyreftIntervention {
  key: string;
  layer: number;
  component: 'block_output';
  type: InterventionType;
  embedDim: number;
  rank: number;
  params: Record<string, ParamTensor>;
  householder?: HouseholderState;
}

export interface StudioSidecar {
  format: 'reft-studio-sidecar';
  version: 1;
  positions: string;
  shareWeights: boolean;
  dropout: number;
  activation: string | null;
  promptTemplate: string | null;
  baseModel: { arch: string; fingerprint: string } | null;
  dtype: string;
  /** The precision the studio trained it in (absent where not recorded; pyvene never reads this file). */
  precision?: Precision;
  /** Where the adapter came from, as the library that exported it knew it (absent in older exports). */
  lineage?: SidecarLineage;
}

/**
 * An export's lineage (reft_studio.json's `lineage`): the base model, dataset and run that made the
 * adapter, by name where the exporting library knew one, and how far the run got. An import keeps it
 * (StudioManifest.lineage), so a run in another library is still named.
 */
export interface SidecarLineage {
  baseModel: { name: string | null; fingerprint: string };
  /** `hash`: the dataset version's content hash (a prefix of it, where only the manifest kept one). */
  dataset: { name: string | null; hash: string | null } | null;
  /** `config`: the run's training settings as its library recorded them. */
  run: { id: string | null; name: string | null; config: Record<string, unknown> | null } | null;
  steps: number | null;
  finalLoss: number | null;
}

export interface PyreftAdapter {
  interventions: PyreftIntervention[];
  sidecar?: StudioSidecar;
  /** config.json's transformers_version (informational). */
  transformersVersion?: string;
}

export interface ModelShape {
  hiddenSize: number;
  numLayers: number;
}

/** The largest hidden size an adapter may claim (the bound config.json hidden sizes have). */
export const MAX_EMBED_DIM = CONFIG_LIMITS.hiddenSize;

export interface ParamSpec {
  /** Canonical name: kinds.ts's name, with `rotate_layer` called R. */
  name: string;
  /** 'n' = embed dim, 'r' = rank */
  dims: ReadonlyArray<'n' | 'r'>;
  optional?: boolean;
}

/** The canonical parameters of a type, derived from kinds.ts PARAMS. */
export function paramSpecs(type: InterventionType): ParamSpec[] {
  return PARAMS[type].map((d) => ({
    name: d.name === 'rotate_layer' ? 'R' : d.name,
    dims: d.dims,
    ...(d.optionalInFiles ? { optional: true } : {}),
  }));
}

/** A tensor's shape, with its values when they have been read (shape-only checks run before). */
type ShapedTensor = { shape: number[]; data?: ArrayLike<number> };

/**
 * Checks `params` against the type's spec; `where` prefixes messages. rank-mismatch when a rank
 * dimension disagrees, shape-mismatch for the embed dimension or the number of dimensions. Works on
 * shapes alone, so a file's tensors can be checked before any of them is read.
 */
export function checkParams(
  where: string,
  type: InterventionType,
  params: Record<string, ShapedTensor>,
  embedDim: number,
  rank: number,
  names: (canonical: string) => string = (c) => c,
): void {
  const specs = paramSpecs(type);
  for (const s of specs) {
    const t = Object.hasOwn(params, s.name) ? params[s.name] : undefined;
    if (!t) {
      if (s.optional) continue;
      throw new FormatError(
        'missing-tensor',
        `${where}: missing tensor ${names(s.name)} for a ${PYREFT_CLASS_NAMES[type]}`,
      );
    }
    const want = s.dims.map((d) => (d === 'n' ? embedDim : rank));
    if (t.shape.length !== want.length) {
      throw new FormatError(
        'shape-mismatch',
        `${where}: ${names(s.name)} is [${t.shape}], expected [${want}]`,
      );
    }
    for (let d = 0; d < want.length; d++) {
      if (t.shape[d] === want[d]) continue;
      if (s.dims[d] === 'r') {
        throw new FormatError(
          'rank-mismatch',
          `${where}: ${names(s.name)} is [${t.shape}], which means rank ${t.shape[d]}, but the config says rank ${rank}`,
        );
      }
      throw new FormatError(
        'shape-mismatch',
        `${where}: ${names(s.name)} is [${t.shape}], which means hidden size ${t.shape[d]}, but the config says ${embedDim}`,
      );
    }
    if (t.data && t.data.length !== want.reduce((a, b) => a * b, 1)) {
      throw new FormatError(
        'shape-mismatch',
        `${where}: ${names(s.name)} has ${t.data.length} values for shape [${t.shape}]`,
      );
    }
    // A NaN or infinite weight (a run that diverged) makes every intervened hidden state NaN, and
    // generation then emits token 0 without a word: refuse the file instead.
    const bad = t.data ? Array.prototype.findIndex.call(t.data, (x: number) => !Number.isFinite(x)) : -1;
    if (t.data && bad !== -1) {
      throw new FormatError(
        'non-finite-weight',
        `${where}: ${names(s.name)} holds ${t.data[bad]} at index ${bad}; the adapter's weights must be finite numbers (did its training diverge?)`,
      );
    }
  }
  for (const name of Object.keys(params)) {
    if (!specs.some((s) => s.name === name)) {
      throw new FormatError(
        'unexpected-tensor',
        `${where}: unexpected tensor ${names(name)} for a ${PYREFT_CLASS_NAMES[type]}`,
      );
    }
  }
}

/** Refuses an adapter that does not fit the model it is about to be used with. */
export function checkAgainstModel(
  adapter: { interventions: Array<Pick<PyreftIntervention, 'key' | 'layer' | 'embedDim'>> },
  model: ModelShape,
): void {
  for (const iv of adapter.interventions) {
    if (iv.embedDim !== model.hiddenSize) {
      throw new UnsupportedError(
        'hidden-size-mismatch',
        `adapter intervention ${iv.key} works on hidden size ${iv.embedDim}, but the model's hidden size is ${model.hiddenSize}; it was trained for a different model`,
      );
    }
    if (!Number.isInteger(iv.layer) || iv.layer < 0 || iv.layer >= model.numLayers) {
      throw new UnsupportedError(
        'layer-out-of-range',
        `adapter intervention ${iv.key} is on layer ${iv.layer}, but the model has layers 0…${model.numLayers - 1}`,
      );
    }
  }
}

/** Validates every intervention's shapes; keys must be unique. */
export function validateAdapter(adapter: PyreftAdapter): void {
  if (adapter.interventions.length === 0)
    throw new FormatError('bad-adapter', 'adapter has no interventions');
  for (const iv of adapter.interventions) {
    if (!Object.hasOwn(PYREFT_CLASS_NAMES, iv.type))
      throw new FormatError(
        'unsupported-intervention',
        `intervention ${iv.key}: unknown type ${String(iv.type)}`,
      );
    if (!Number.isInteger(iv.layer) || iv.layer < 0)
      throw new FormatError(
        'bad-adapter',
        `intervention ${iv.key}: layer ${iv.layer} is not a valid layer index`,
      );
    if (
      !Number.isInteger(iv.rank) ||
      iv.rank <= 0 ||
      !Number.isInteger(iv.embedDim) ||
      iv.rank > iv.embedDim
    ) {
      throw new FormatError(
        'bad-adapter',
        `intervention ${iv.key}: rank ${iv.rank} / hidden size ${iv.embedDim} are not valid`,
      );
    }
    checkParams(`intervention ${iv.key}`, iv.type, iv.params, iv.embedDim, iv.rank);
  }
}
