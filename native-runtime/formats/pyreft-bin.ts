// One pyreft intervention file, `intkey_<key>.bin`: a torch.save of the intervention's state dict, in
// the order and with the buffers and `_metadata` pyreft's own modules produce (torchLayout). R-based
// types other than LoReFT store R through torch's Householder parametrization (householder.ts);
// reading keeps those tensors so a re-export reproduces them exactly.
// Reading is planned before anything is materialised: the file's size is bounded by what the
// config's (type, hidden size, rank) can legitimately hold, and every tensor's name and shape is
// checked against the config before its data is read (torch-save.ts indexTorchFile). Reading never
// executes code (pickle.ts allow-list).

import { closeSync, fstatSync, readSync } from 'node:fs';
import { FormatError } from '../errors.ts';
import { householderFromR, householderR } from './householder.ts';
import { openRegularFile } from './json-file.ts';
import type { ParsedConfig } from './pyreft-config.ts';
import {
  checkParams,
  type InterventionType,
  type ParamTensor,
  PYREFT_CLASS_NAMES,
  type PyreftIntervention,
  paramSpecs,
} from './pyreft-params.ts';
import type { TensorToWrite } from './safetensors.ts';
import { encodeTorchFile, indexTorchFile, type TorchTensor, type TorchTensorView } from './torch-save.ts';

const R_TYPES = new Set<InterventionType>(['loreft', 'direft', 'consreft', 'lobireft']);
const ORIGINAL = 'rotate_layer.parametrizations.weight.original';
const BASE = 'rotate_layer.parametrizations.weight.0.base';

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

// ---------------------------------------------------------------------------------------------
// Reading

/** Zip and pickle overhead of one .bin beyond its tensor bytes (pyreft's are under 4 KB). */
const BIN_OVERHEAD = 64 * 1024;

/** The shape each stored tensor must have for hidden size n and rank r, by its torch name. */
function storedShapes(type: InterventionType, n: number, r: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const s of paramSpecs(type)) {
    const shape = s.dims.map((d) => (d === 'n' ? n : r));
    if (s.name !== 'R') out.set(s.name, shape);
    else if (type === 'loreft') out.set('rotate_layer', shape);
  }
  if (R_TYPES.has(type) && type !== 'loreft') {
    out.set(ORIGINAL, [n, r]);
    out.set(BASE, [n, n]);
  }
  for (const k of torchLayout(type).keys) if (k === 'embed_dim' || k === 'interchange_dim') out.set(k, []);
  return out;
}

/**
 * The most bytes a .bin of this (type, n, r) can legitimately take: every tensor in float64 (the
 * widest dtype we accept) plus zip and pickle overhead. Larger files are refused unread.
 */
export function maxBinBytes(type: InterventionType, n: number, r: number): number {
  let elems = 0;
  for (const shape of storedShapes(type, n, r).values()) elems += shape.reduce((a, b) => a * b, 1);
  return elems * 8 + BIN_OVERHEAD;
}

function readBounded(path: string, maxBytes: number, file: string): Buffer {
  const fd = openRegularFile(path, file);
  try {
    const st = fstatSync(fd);
    if (st.size > maxBytes) {
      throw new FormatError(
        'file-too-large',
        `${file}: ${st.size} bytes is more than an intervention of this type, hidden size and rank can hold (${maxBytes})`,
      );
    }
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
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

/** Checks names, dtypes of the int buffers and every shape against the config, from the views alone. */
function checkViews(
  file: string,
  e: ParsedConfig['entries'][number],
  views: Map<string, TorchTensorView>,
): void {
  const layout = torchLayout(e.type);
  for (const name of views.keys()) {
    if (!layout.keys.includes(name))
      throw new FormatError(
        'unexpected-tensor',
        `${file}: unexpected tensor ${name} for a ${PYREFT_CLASS_NAMES[e.type]}`,
      );
  }
  // The canonical parameters first, so their errors read as before (rank vs hidden size).
  const shapes: Record<string, { shape: number[] }> = {};
  for (const [name, v] of views) {
    if (name === 'embed_dim' || name === 'interchange_dim' || name === BASE) continue;
    const canonical = name === ORIGINAL || name === 'rotate_layer' ? 'R' : name;
    shapes[canonical] = { shape: v.shape };
  }
  const isR = R_TYPES.has(e.type) && e.type !== 'loreft';
  const original = views.get(ORIGINAL);
  if (isR) {
    if (!original) throw new FormatError('missing-tensor', `${file}: missing tensor ${ORIGINAL}`);
    if (!views.has(BASE)) throw new FormatError('missing-tensor', `${file}: missing tensor ${BASE}`);
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
  }
  const torchName = (c: string) =>
    e.type === 'loreft' && c === 'R' ? 'rotate_layer' : c === 'R' ? ORIGINAL : c;
  checkParams(file, e.type, shapes, e.embedDim, e.rank, torchName);
  // Then every stored tensor, buffers and parametrization included, must have exactly its shape.
  const want = storedShapes(e.type, e.embedDim, e.rank);
  for (const [name, v] of views) {
    const w = want.get(name) as number[];
    if (v.shape.length !== w.length || v.shape.some((d, i) => d !== w[i]))
      throw new FormatError('shape-mismatch', `${file}: ${name} is [${v.shape}], expected [${w}]`);
  }
}

/**
 * Reads one intervention's .bin after checking it against its config entry: size bound first,
 * then names and shapes from the pickle, and only then the tensor data.
 */
export function readInterventionBin(path: string, e: ParsedConfig['entries'][number]): PyreftIntervention {
  // Named by its whole path in every error, as a missing one is (pyreft.ts) and config.json is.
  const file = path;
  const buf = readBounded(path, maxBinBytes(e.type, e.embedDim, e.rank), file);
  const index = indexTorchFile(buf, file);
  checkViews(file, e, index.views);
  const params: Record<string, ParamTensor> = {};
  let original: ParamTensor | undefined;
  let base: ParamTensor | undefined;
  for (const name of torchLayout(e.type).keys) {
    if (!index.views.has(name)) continue;
    const t = index.read(name);
    if (name === 'embed_dim' || name === 'interchange_dim') {
      if (t.dtype !== 'I64') throw new FormatError('bad-dtype', `${file}: ${name} must be an int64 scalar`);
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
  if (original && base) {
    const [n, r] = original.shape;
    params.R = { shape: [n, r], data: householderR(original.data, base.data, n, r) };
  }
  const torchName = (c: string) =>
    e.type === 'loreft' && c === 'R' ? 'rotate_layer' : c === 'R' ? ORIGINAL : c;
  checkParams(file, e.type, params, e.embedDim, e.rank, torchName);
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

// ---------------------------------------------------------------------------------------------
// Writing

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
