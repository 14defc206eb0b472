// pyreft export folders (what `pyreft.ReftModel.load(dir, model)` reads), read and written.
//
// A folder holds config.json (pyvene's IntervenableConfig, keys sorted, indent 2) and one torch.save
// file `intkey_<key>.bin` per intervention, plus our side file reft_studio.json (pyvene ignores
// unknown files) for what pyreft does not store: positions, share_weights, dropout, activation,
// prompt template, base model fingerprint, dtype.
// In memory every intervention keeps canonical parameters (n = embed dim, r = rank):
//   loreft             R (n,r), weight (r,n), bias (r)
//   direft             R, learned_source.weight (r,n), learned_source.bias (r)
//   consreft/lobireft  R, learned_source (r)
//   noreft/nodireft    learned_source.weight, learned_source.bias, proj_layer.weight (r,n),
//                      proj_layer.bias (r, only with add_bias)
// R-based types other than LoReFT store R through torch's Householder parametrization
// (householder.ts); imports keep those tensors so a re-export reproduces them exactly.
// Reading never executes code (torch-save.ts → pickle.ts allow-list). Writing goes to a temp
// folder that is renamed into place, so a failure leaves the destination as it was.
// Left out: components other than block_output, units other than "pos", subspaces.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError, UnsupportedError } from '../errors.ts';
import { type InterventionType, PYREFT_CLASS } from '../interventions/kinds.ts';
import { householderFromR, householderR } from './householder.ts';
import type { TensorToWrite } from './safetensors.ts';
import { encodeTorchFile, readTorchFileFull, type TorchTensor } from './torch-save.ts';

// The six types and their pyreft class names are declared once, with the engine's interventions.
export type { InterventionType };
export const PYREFT_CLASS_NAMES: Record<InterventionType, string> = PYREFT_CLASS;

/** The string pyvene writes in config.json's intervention_types. */
export function pyreftClassString(type: InterventionType): string {
  return `<class 'pyreft.interventions.${PYREFT_CLASS_NAMES[type]}'>`;
}

/** Accepts "<class 'pyreft.interventions.LoreftIntervention'>", "pyreft.interventions.X" or "X". */
export function parseInterventionType(s: string): InterventionType | undefined {
  const m = /^(?:<class ')?(?:[\w.]+\.)?(\w+)(?:'>)?$/.exec(s.trim());
  if (!m) return undefined;
  const found = (Object.keys(PYREFT_CLASS_NAMES) as InterventionType[]).find(
    (t) => PYREFT_CLASS_NAMES[t] === m[1],
  );
  return found;
}

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

export const SIDECAR_FILE = 'reft_studio.json';
const DEFAULT_TRANSFORMERS_VERSION = '5.17.0';
const R_TYPES = new Set<InterventionType>(['loreft', 'direft', 'consreft', 'lobireft']);
const ORIGINAL = 'rotate_layer.parametrizations.weight.original';
const BASE = 'rotate_layer.parametrizations.weight.0.base';

// ---------------------------------------------------------------------------------------------
// Parameter layout per type

export interface ParamSpec {
  name: string;
  /** 'n' = embed dim, 'r' = rank */
  dims: Array<'n' | 'r'>;
  optional?: boolean;
}

export function paramSpecs(type: InterventionType): ParamSpec[] {
  const R: ParamSpec = { name: 'R', dims: ['n', 'r'] };
  switch (type) {
    case 'loreft':
      return [R, { name: 'weight', dims: ['r', 'n'] }, { name: 'bias', dims: ['r'] }];
    case 'direft':
      return [
        R,
        { name: 'learned_source.weight', dims: ['r', 'n'] },
        { name: 'learned_source.bias', dims: ['r'] },
      ];
    case 'consreft':
    case 'lobireft':
      return [R, { name: 'learned_source', dims: ['r'] }];
    case 'noreft':
    case 'nodireft':
      return [
        { name: 'learned_source.weight', dims: ['r', 'n'] },
        { name: 'learned_source.bias', dims: ['r'] },
        { name: 'proj_layer.weight', dims: ['r', 'n'] },
        { name: 'proj_layer.bias', dims: ['r'], optional: true },
      ];
  }
}

/** The torch state dict order of each type's .bin ('#…' entries are buffers / parametrization). */
function torchLayout(type: InterventionType): { keys: string[]; metadata?: string[] } {
  const rot = [
    'rotate_layer',
    'rotate_layer.parametrizations',
    'rotate_layer.parametrizations.weight',
    'rotate_layer.parametrizations.weight.0',
  ];
  switch (type) {
    case 'loreft': // LoreftIntervention.state_dict() is a fresh OrderedDict: no buffers, no _metadata
      return { keys: ['weight', 'bias', 'rotate_layer'] };
    case 'direft':
      return {
        keys: [
          'embed_dim',
          'interchange_dim',
          ORIGINAL,
          BASE,
          'learned_source.weight',
          'learned_source.bias',
        ],
        metadata: ['', ...rot, 'learned_source', 'dropout', 'act_fn'],
      };
    case 'noreft':
    case 'nodireft':
      return {
        keys: [
          'embed_dim',
          'interchange_dim',
          'proj_layer.weight',
          'proj_layer.bias',
          'learned_source.weight',
          'learned_source.bias',
        ],
        metadata: ['', 'proj_layer', 'learned_source', 'dropout', 'act_fn'],
      };
    case 'consreft': // own Parameter first, then the buffers, then submodules
      return {
        keys: ['learned_source', 'embed_dim', 'interchange_dim', ORIGINAL, BASE],
        metadata: ['', ...rot],
      };
    case 'lobireft':
      return {
        keys: ['learned_source', 'embed_dim', 'interchange_dim', ORIGINAL, BASE],
        metadata: ['', ...rot, 'dropout'],
      };
  }
}

/** pyvene's key for the k-th representation on `layer` (block_output, pos, 1 unit). */
export function interventionKey(layer: number, k: number): string {
  return `layer_${layer}_comp_block_output_unit_pos_nunit_1#${k}`;
}

/** Parses both `layer_1_comp_block_output_unit_pos_nunit_1#0` and the older dotted form. */
export function parseInterventionKey(
  key: string,
): { layer: number; component: string; k: number } | undefined {
  const m = /^layer[._](\d+)[._]comp[._]([A-Za-z_]+?)[._]unit[._]pos[._]nunit[._](\d+)#(\d+)$/.exec(key);
  if (!m) return undefined;
  return { layer: Number(m[1]), component: m[2], k: Number(m[4]) };
}

/** Canonical keys in config order: k counts earlier interventions on the same layer. */
export function canonicalKeys(layers: number[]): string[] {
  const seen = new Map<number, number>();
  return layers.map((l) => {
    const k = seen.get(l) ?? 0;
    seen.set(l, k + 1);
    return interventionKey(l, k);
  });
}

// ---------------------------------------------------------------------------------------------
// Shape checks shared with studio-adapter.ts

/**
 * Checks `params` against the type's spec; `where` prefixes messages. rank-mismatch when a rank
 * dimension disagrees, shape-mismatch for the embed dimension or the number of dimensions.
 */
export function checkParams(
  where: string,
  type: InterventionType,
  params: Record<string, ParamTensor>,
  embedDim: number,
  rank: number,
  names: (canonical: string) => string = (c) => c,
): void {
  const specs = paramSpecs(type);
  for (const s of specs) {
    const t = params[s.name];
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
    if (t.data.length !== want.reduce((a, b) => a * b, 1)) {
      throw new FormatError(
        'shape-mismatch',
        `${where}: ${names(s.name)} has ${t.data.length} values for shape [${t.shape}]`,
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

// ---------------------------------------------------------------------------------------------
// Reading

const CONFIG_KEYS = [
  'intervention_constant_sources',
  'intervention_dimensions',
  'intervention_types',
  'mode',
  'representations',
  'sorted_keys',
  'transformers_version',
] as const;

interface ParsedConfig {
  entries: Array<{ key: string; layer: number; type: InterventionType; embedDim: number; rank: number }>;
  transformersVersion: string;
}

function parseConfig(json: unknown, where: string): ParsedConfig {
  const bad = (msg: string) => new FormatError('bad-config', `${where}: ${msg}`);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad('not a JSON object');
  const c = json as Record<string, unknown>;
  for (const k of CONFIG_KEYS) if (!(k in c)) throw bad(`missing key "${k}"; not a pyreft config`);
  if (c.mode !== 'parallel')
    throw new FormatError(
      'unsupported-config',
      `${where}: mode "${String(c.mode)}" is not supported (pyreft uses "parallel")`,
    );
  if (typeof c.transformers_version !== 'string') throw bad('transformers_version is not a string');
  const reps = c.representations;
  if (!Array.isArray(reps) || reps.length === 0) throw bad('representations must be a non-empty array');
  const n = reps.length;
  for (const k of [
    'intervention_constant_sources',
    'intervention_dimensions',
    'intervention_types',
    'sorted_keys',
  ] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== n)
      throw bad(`${k} must be an array of ${n} entries, one per representation`);
  }
  const consts = c.intervention_constant_sources as unknown[];
  const dims = c.intervention_dimensions as unknown[];
  const types = c.intervention_types as unknown[];
  const keys = c.sorted_keys as unknown[];
  const entries: ParsedConfig['entries'] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const rep = reps[i];
    if (!Array.isArray(rep) || rep.length !== 14) {
      throw bad(
        `representations[${i}] must be a 14-element array [layer, component, unit, nunit, rank, …], got ${JSON.stringify(rep)}`,
      );
    }
    const [layer, component, unit, nunit, rank] = rep;
    if (!Number.isInteger(layer) || layer < 0)
      throw bad(`representations[${i}][0] (layer) must be a non-negative integer`);
    if (component !== 'block_output') {
      throw new FormatError(
        'unsupported-config',
        `${where}: representations[${i}] intervenes on "${String(component)}"; only block_output is supported`,
      );
    }
    if (unit !== 'pos' || nunit !== 1)
      throw new FormatError(
        'unsupported-config',
        `${where}: representations[${i}] uses unit ${String(unit)} × ${String(nunit)}; only "pos" × 1 is supported`,
      );
    if (rank === null || rank === undefined) {
      throw bad(
        `representations[${i}] has no rank (element 4, low_rank_dimension); pyreft cannot load such a folder either`,
      );
    }
    if (!Number.isInteger(rank) || rank <= 0)
      throw bad(`representations[${i}][4] (rank) must be a positive integer`);
    if (consts[i] !== true)
      throw new FormatError(
        'unsupported-config',
        `${where}: intervention ${i} is not a constant-source intervention`,
      );
    const dim = dims[i];
    if (!Number.isInteger(dim) || (dim as number) <= 0)
      throw bad(`intervention_dimensions[${i}] must be a positive integer`);
    const typeStr = types[i];
    const type = typeof typeStr === 'string' ? parseInterventionType(typeStr) : undefined;
    if (!type)
      throw new FormatError(
        'unsupported-intervention',
        `${where}: intervention type ${JSON.stringify(typeStr)} is not one of pyreft's six`,
      );
    const key = keys[i];
    const parsed = typeof key === 'string' ? parseInterventionKey(key) : undefined;
    if (!parsed || typeof key !== 'string')
      throw bad(`sorted_keys[${i}] ${JSON.stringify(key)} is not a pyvene intervention key`);
    if (parsed.layer !== layer || parsed.component !== 'block_output') {
      throw bad(
        `sorted_keys[${i}] "${key}" does not match representations[${i}] (layer ${layer}, ${component})`,
      );
    }
    if (seen.has(key)) throw bad(`sorted_keys has "${key}" twice`);
    seen.add(key);
    entries.push({ key, layer, type, embedDim: dim as number, rank });
  }
  return { entries, transformersVersion: c.transformers_version };
}

function toF32(t: TorchTensor, where: string, name: string): ParamTensor {
  if (t.dtype !== 'F32' && t.dtype !== 'BF16' && t.dtype !== 'F16' && t.dtype !== 'F64') {
    throw new FormatError('bad-dtype', `${where}: ${name} has dtype ${t.dtype}, expected a float tensor`);
  }
  return {
    shape: t.shape,
    data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array),
  };
}

function readIntervention(dir: string, e: ParsedConfig['entries'][number]): PyreftIntervention {
  const file = `intkey_${e.key}.bin`;
  const path = join(dir, file);
  if (!existsSync(path))
    throw new FormatError('missing-file', `${path}: missing; config.json lists intervention ${e.key}`);
  const { tensors } = readTorchFileFull(path);
  const layout = torchLayout(e.type);
  for (const name of tensors.keys()) {
    if (!layout.keys.includes(name))
      throw new FormatError(
        'unexpected-tensor',
        `${file}: unexpected tensor ${name} for a ${PYREFT_CLASS_NAMES[e.type]}`,
      );
  }
  const params: Record<string, ParamTensor> = {};
  let original: ParamTensor | undefined;
  let base: ParamTensor | undefined;
  for (const name of layout.keys) {
    const t = tensors.get(name);
    if (!t) continue;
    if (name === 'embed_dim' || name === 'interchange_dim') {
      if (t.dtype !== 'I64' || t.shape.length !== 0)
        throw new FormatError('bad-dtype', `${file}: ${name} must be an int64 scalar`);
      const v = Number((t.data as BigInt64Array)[0]);
      if (name === 'embed_dim' && v !== e.embedDim) {
        throw new FormatError(
          'shape-mismatch',
          `${file}: embed_dim is ${v}, but config.json gives hidden size ${e.embedDim}`,
        );
      }
    } else if (name === ORIGINAL) original = toF32(t, file, name);
    else if (name === BASE) base = toF32(t, file, name);
    else if (name === 'rotate_layer') params.R = toF32(t, file, name);
    else params[name] = toF32(t, file, name);
  }
  const where = `${file}`;
  if (R_TYPES.has(e.type) && e.type !== 'loreft') {
    if (!original) throw new FormatError('missing-tensor', `${file}: missing tensor ${ORIGINAL}`);
    if (!base) throw new FormatError('missing-tensor', `${file}: missing tensor ${BASE}`);
    const [n, r] = original.shape;
    if (original.shape.length !== 2 || n !== e.embedDim) {
      throw new FormatError(
        'shape-mismatch',
        `${file}: ${ORIGINAL} is [${original.shape}], but config.json gives hidden size ${e.embedDim}`,
      );
    }
    if (r !== e.rank)
      throw new FormatError(
        'rank-mismatch',
        `${file}: ${ORIGINAL} is [${original.shape}], which means rank ${r}, but config.json says rank ${e.rank}`,
      );
    if (base.shape.length !== 2 || base.shape[0] !== n || base.shape[1] !== n) {
      throw new FormatError('shape-mismatch', `${file}: ${BASE} is [${base.shape}], expected [${n},${n}]`);
    }
    params.R = { shape: [n, r], data: householderR(original.data, base.data, n, r) };
  }
  const torchName = (c: string) =>
    e.type === 'loreft' && c === 'R' ? 'rotate_layer' : c === 'R' ? ORIGINAL : c;
  checkParams(where, e.type, params, e.embedDim, e.rank, torchName);
  return {
    key: e.key,
    layer: e.layer,
    component: 'block_output',
    type: e.type,
    embedDim: e.embedDim,
    rank: e.rank,
    params,
    householder: original && base ? { original, base } : undefined,
  };
}

/** Reads and validates a pyreft folder (config.json + intkey_*.bin [+ reft_studio.json]). */
export function readPyreftFolder(dir: string): PyreftAdapter {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) {
    throw new FormatError(
      'missing-file',
      `${cfgPath}: missing; a pyreft folder needs config.json next to its intkey_*.bin files (checkpoints without it cannot be loaded)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch {
    throw new FormatError('bad-config', `${cfgPath}: not valid JSON`);
  }
  const cfg = parseConfig(json, cfgPath);
  const interventions = cfg.entries.map((e) => readIntervention(dir, e));
  const adapter: PyreftAdapter = { interventions, transformersVersion: cfg.transformersVersion };
  const sidePath = join(dir, SIDECAR_FILE);
  if (existsSync(sidePath)) adapter.sidecar = parseSidecar(readFileSync(sidePath, 'utf8'), sidePath);
  return adapter;
}

export function parseSidecar(text: string, where: string): StudioSidecar {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch {
    throw new FormatError('bad-config', `${where}: not valid JSON`);
  }
  const bad = (m: string) => new FormatError('bad-config', `${where}: ${m}`);
  if (j.format !== 'reft-studio-sidecar' || j.version !== 1) throw bad('not a reft_studio.json of version 1');
  if (typeof j.positions !== 'string') throw bad('positions must be a string');
  if (typeof j.shareWeights !== 'boolean') throw bad('shareWeights must be a boolean');
  if (typeof j.dropout !== 'number') throw bad('dropout must be a number');
  if (j.activation !== null && typeof j.activation !== 'string')
    throw bad('activation must be a string or null');
  if (j.promptTemplate !== null && typeof j.promptTemplate !== 'string')
    throw bad('promptTemplate must be a string or null');
  const bm = j.baseModel as { arch?: unknown; fingerprint?: unknown } | null;
  if (
    bm !== null &&
    (typeof bm !== 'object' || typeof bm.arch !== 'string' || typeof bm.fingerprint !== 'string')
  ) {
    throw bad('baseModel must be {arch, fingerprint} or null');
  }
  if (typeof j.dtype !== 'string') throw bad('dtype must be a string');
  return j as unknown as StudioSidecar;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** config.json exactly as transformers writes it: keys sorted, indent 2, trailing newline. */
export function encodePyreftConfig(
  interventions: PyreftIntervention[],
  transformersVersion = DEFAULT_TRANSFORMERS_VERSION,
): string {
  const keys = canonicalKeys(interventions.map((iv) => iv.layer));
  const cfg = {
    intervention_constant_sources: interventions.map(() => true),
    intervention_dimensions: interventions.map((iv) => iv.embedDim),
    intervention_types: interventions.map((iv) => pyreftClassString(iv.type)),
    mode: 'parallel',
    representations: interventions.map((iv) => [
      iv.layer,
      'block_output',
      'pos',
      1,
      iv.rank,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]),
    sorted_keys: keys,
    transformers_version: transformersVersion,
  };
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

function f32(t: ParamTensor): TensorToWrite {
  return { dtype: 'F32', shape: t.shape, data: t.data };
}

function scalarI64(v: number): TensorToWrite {
  return { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(v)) };
}

/** Same shape and values within `tol`. */
function close(a: Float32Array, b: Float32Array, tol: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= tol)) return false;
  return true;
}

/** The torch.save bytes of one intervention, laid out as pyreft's own state dict. */
export function encodeInterventionBin(iv: PyreftIntervention, stem: string): Buffer {
  const layout = torchLayout(iv.type);
  const n = iv.embedDim;
  const r = iv.rank;
  let hh: { original: Float32Array; base: Float32Array } | undefined;
  if (R_TYPES.has(iv.type) && iv.type !== 'loreft') {
    const R = iv.params.R.data;
    // Keep imported parametrization tensors when they still give this R; else synthesize.
    const kept = iv.householder;
    if (
      kept &&
      kept.original.data.length === n * r &&
      kept.base.data.length === n * n &&
      close(householderR(kept.original.data, kept.base.data, n, r), R, 1e-6)
    ) {
      hh = { original: kept.original.data, base: kept.base.data };
    } else {
      hh = householderFromR(R, n, r);
    }
  }
  const entries: Array<[string, TensorToWrite]> = [];
  for (const name of layout.keys) {
    if (name === 'embed_dim' || name === 'interchange_dim') entries.push([name, scalarI64(n)]);
    else if (name === ORIGINAL && hh)
      entries.push([name, { dtype: 'F32', shape: [n, r], data: hh.original }]);
    else if (name === BASE && hh) entries.push([name, { dtype: 'F32', shape: [n, n], data: hh.base }]);
    else if (name === 'rotate_layer') entries.push([name, f32(iv.params.R)]);
    else if (iv.params[name]) entries.push([name, f32(iv.params[name])]);
  }
  return encodeTorchFile(stem, entries, { metadata: layout.metadata });
}

/** Validates every intervention's shapes; keys must be unique. */
export function validateAdapter(adapter: PyreftAdapter): void {
  if (adapter.interventions.length === 0)
    throw new FormatError('bad-adapter', 'adapter has no interventions');
  for (const iv of adapter.interventions) {
    if (!(iv.type in PYREFT_CLASS_NAMES))
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

/**
 * Writes a pyreft folder: config.json, intkey_<key>.bin per intervention (keys regenerated in
 * pyvene's current form), and reft_studio.json when the adapter has a sidecar. Atomic per folder.
 */
export function writePyreftFolder(dir: string, adapter: PyreftAdapter): void {
  validateAdapter(adapter);
  const keys = canonicalKeys(adapter.interventions.map((iv) => iv.layer));
  const files: Array<[string, string | Uint8Array]> = [
    ['config.json', encodePyreftConfig(adapter.interventions, adapter.transformersVersion)],
  ];
  adapter.interventions.forEach((iv, i) => {
    const stem = `intkey_${keys[i]}`;
    files.push([`${stem}.bin`, encodeInterventionBin(iv, stem)]);
  });
  if (adapter.sidecar) files.push([SIDECAR_FILE, `${JSON.stringify(adapter.sidecar, null, 2)}\n`]);
  writeFolderAtomic(dir, files);
}

/**
 * Creates or replaces folder `dir` with exactly `files`: everything is written and fsynced into a
 * temp sibling first, then renamed into place; on failure the old folder (if any) is kept.
 */
export function writeFolderAtomic(dir: string, files: Array<[string, string | Uint8Array]>): void {
  const target = resolve(dir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const tag = randomBytes(6).toString('hex');
  const tmp = join(parent, `.${basename(target)}.${tag}.tmp`);
  mkdirSync(tmp);
  try {
    for (const [name, data] of files) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === '.')
        throw new FormatError('bad-adapter', `invalid file name ${name}`);
      const fd = openSync(join(tmp, name), 'w');
      try {
        const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!existsSync(target)) {
    renameSync(tmp, target);
    return;
  }
  const old = join(parent, `.${basename(target)}.${tag}.old`);
  renameSync(target, old);
  try {
    renameSync(tmp, target);
  } catch (e) {
    renameSync(old, target);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
