// torch.save files (the zip format, torch >= 1.6) holding a flat state dict of tensors.
//
// Layout inside the zip, all under one folder `<stem>/` (torch names it after the file):
//   data.pkl             pickle (protocol 2) of an OrderedDict name -> tensor (see pickle.ts)
//   .format_version      "1"   (torch 2.x; older readers ignore it)
//   .storage_alignment   "64"  (torch 2.x)
//   byteorder            "little"
//   data/<key>           raw little-endian bytes of storage <key>
//   version              "3\n"
//   .data/serialization_id  40 decimal digits (torch 2.x; informational)
// Each record's data starts on a 64-byte boundary (zip.ts). Reading honours storage offsets and
// strides (torch stores e.g. QR outputs column-major); tensors come back contiguous. Views that
// overlap themselves (stride 0) are refused: torch.save never writes them for a state dict, and they
// would let a few stored bytes claim gigabytes (indexTorchFile lets callers check shapes first).
// Left out: non-tensor values, storages shared between differently-typed views, big-endian files.

import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { FormatError } from '../errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { encodeStateDictPickle, loadPickle, PyDict, TensorRef } from './pickle.ts';
import {
  decodeTensor,
  dtypeBytes,
  type NumericArray,
  type SafetensorsDtype,
  type TensorToWrite,
} from './safetensors.ts';
import { encodeZip, parseZip } from './zip.ts';

export interface TorchTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Decoded values (F16/BF16 widened to Float32, as safetensors.ts does). */
  data: NumericArray;
  /** The raw contiguous little-endian bytes in `dtype`. */
  raw: Buffer;
}

export interface TorchFile {
  /** The folder name inside the zip (torch uses the file name without extension). */
  stem: string;
  tensors: Map<string, TorchTensor>;
  /** Module prefixes of the state dict's `_metadata`, when it has one. */
  metadata?: string[];
}

export type TensorEntries = Map<string, TensorToWrite> | Array<[string, TensorToWrite]>;

export interface WriteTorchOptions {
  /** `_metadata` module prefixes, as nn.Module.state_dict() attaches (see pickle.ts). */
  metadata?: string[];
}

/** A tensor as data.pkl describes it: a view into a storage, not yet read. */
export interface TorchTensorView {
  dtype: SafetensorsDtype;
  shape: number[];
  stride: number[];
  /** Element offset of the view in its storage. */
  offset: number;
  storageKey: string;
  storageNumel: number;
}

/**
 * A parsed torch.save file whose tensors are not materialised yet: callers check names and shapes
 * (`views`) against what they expect before `read` allocates anything for them.
 */
export interface TorchFileIndex {
  stem: string;
  views: Map<string, TorchTensorView>;
  metadata?: string[];
  /** Materialises one tensor (contiguous copy of its view; refuses overlapping views). */
  read(name: string): TorchTensor;
}

/** Reads a torch.save file of tensors through the allow-listed pickle VM. */
export function readTorchFile(path: string): Map<string, TorchTensor> {
  return readTorchFileFull(path).tensors;
}

export function readTorchFileFull(path: string): TorchFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new FormatError('missing-file', `${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseTorchFile(buf, path);
}

/** Parses torch.save bytes and materialises every tensor; `label` names the file in errors. */
export function parseTorchFile(buf: Buffer, label: string): TorchFile {
  const index = indexTorchFile(buf, label);
  const tensors = new Map<string, TorchTensor>();
  for (const name of index.views.keys()) tensors.set(name, index.read(name));
  return { stem: index.stem, tensors, metadata: index.metadata };
}

/** Parses the zip and the pickle of torch.save bytes; tensor data is read only by `read`. */
export function indexTorchFile(buf: Buffer, label: string): TorchFileIndex {
  const zip = parseZip(buf, label);
  const pkl = zip.records.find((r) => /^[^/]+\/data\.pkl$/.test(r.name));
  if (!pkl)
    throw new FormatError('bad-torch-file', `${label}: no <name>/data.pkl record; not a torch.save file`);
  const stem = pkl.name.slice(0, pkl.name.indexOf('/'));
  for (const r of zip.records) {
    if (!r.name.startsWith(`${stem}/`))
      throw new FormatError('bad-torch-file', `${label}: record ${r.name} is outside ${stem}/`);
  }
  if (zip.get(`${stem}/byteorder`)) {
    const order = zip.read(`${stem}/byteorder`).toString('latin1');
    if (order !== 'little')
      throw new FormatError('unsupported-byteorder', `${label}: byte order is not little-endian`);
  }
  const root = loadPickle(zip.read(pkl.name), label);
  if (!(root instanceof PyDict))
    throw new FormatError('bad-torch-file', `${label}: data.pkl holds no dict of tensors`);

  const views = new Map<string, TorchTensorView>();
  for (const [name, value] of root.map) {
    if (typeof name !== 'string' || !(value instanceof TensorRef)) {
      throw new FormatError('bad-torch-file', `${label}: entry ${String(name).slice(0, 80)} is not a tensor`);
    }
    const st = value.storage;
    views.set(name, {
      dtype: st.dtype,
      shape: value.size,
      stride: value.stride,
      offset: value.offset,
      storageKey: st.key,
      storageNumel: st.numel,
    });
  }
  let metadata: string[] | undefined;
  if (root.state instanceof PyDict) {
    const md = root.state.map.get('_metadata');
    if (md instanceof PyDict) metadata = [...md.map.keys()].map(String);
  }

  const storages = new Map<string, Buffer>();
  const read = (name: string): TorchTensor => {
    const v = views.get(name);
    if (!v) throw new FormatError('missing-tensor', `${label}: no tensor ${name}`);
    const eb = dtypeBytes(v.dtype);
    let bytes = storages.get(v.storageKey);
    if (!bytes) {
      const rec = `${stem}/data/${v.storageKey}`;
      if (!zip.get(rec))
        throw new FormatError(
          'bad-torch-file',
          `${label}: tensor ${name} names storage ${v.storageKey}, which the file lacks`,
        );
      bytes = zip.read(rec);
      if (bytes.length !== v.storageNumel * eb) {
        throw new FormatError(
          'bad-torch-file',
          `${label}: storage ${v.storageKey} has ${bytes.length} bytes, expected ${v.storageNumel} × ${eb}`,
        );
      }
      storages.set(v.storageKey, bytes);
    }
    const raw = gather(v, bytes, eb, `${label}: tensor ${name}`);
    return { dtype: v.dtype, shape: v.shape, data: decodeTensor(raw, v.dtype), raw };
  };
  return { stem, views, metadata, read };
}

/**
 * True when no two indices of the view address the same element: with the dimensions of size > 1
 * sorted by stride, each stride must step past everything the smaller ones reach. torch.save
 * writes such views (contiguous, or transposed like QR outputs); a stride-0 or overlapping view is
 * how a few stored bytes would claim a huge tensor, so it is refused before anything is allocated.
 */
export function isNonOverlapping(shape: readonly number[], stride: readonly number[]): boolean {
  const dims = shape
    .map((size, d) => ({ size, stride: stride[d] }))
    .filter((x) => x.size > 1)
    .sort((a, b) => a.stride - b.stride);
  let reach = 0; // the largest element offset the dimensions so far can address
  for (const { size, stride: st } of dims) {
    if (st <= reach) return false;
    reach += st * (size - 1);
  }
  return true;
}

/** Copies a strided view out of its storage into a fresh contiguous buffer (bounds-checked). */
function gather(t: TorchTensorView, storage: Buffer, eb: number, what: string): Buffer {
  if (!isNonOverlapping(t.shape, t.stride)) {
    throw new FormatError(
      'bad-torch-file',
      `${what}: view [${t.shape}] stride [${t.stride}] overlaps itself (stride 0 or overlapping strides are refused)`,
    );
  }
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return Buffer.alloc(0);
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  // Non-overlapping and inside the storage, so numel ≤ the storage's elements: the allocation
  // below is bounded by bytes the file really holds.
  if (!Number.isSafeInteger(last) || last * eb + eb > storage.length) {
    throw new FormatError(
      'bad-torch-file',
      `${what}: view [${t.shape}] stride [${t.stride}] offset ${t.offset} runs past its storage`,
    );
  }
  const out = Buffer.alloc(numel * eb);
  const contiguous = t.shape.every(
    (_, d) => t.shape[d] === 1 || t.stride[d] === t.shape.slice(d + 1).reduce((a, b) => a * b, 1),
  );
  if (contiguous) {
    storage.copy(out, 0, t.offset * eb, (t.offset + numel) * eb);
    return out;
  }
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let src = t.offset;
    for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
    storage.copy(out, i * eb, src * eb, src * eb + eb);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** torch.save bytes of an OrderedDict of tensors (contiguous, one storage each). */
export function encodeTorchFile(stem: string, tensors: TensorEntries, opts: WriteTorchOptions = {}): Buffer {
  if (!stem || stem.includes('/')) throw new FormatError('bad-torch-file', `invalid archive name '${stem}'`);
  const list = tensors instanceof Map ? [...tensors] : tensors;
  for (const [name, t] of list) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.byteLength !== numel * dtypeBytes(t.dtype)) {
      throw new FormatError(
        'bad-shape',
        `tensor ${name}: ${t.data.byteLength} bytes do not match shape [${t.shape}] ${t.dtype}`,
      );
    }
  }
  const pkl = encodeStateDictPickle(
    list.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    { metadata: opts.metadata },
  );
  const text = (s: string) => Buffer.from(s, 'latin1');
  const records = [
    { name: `${stem}/data.pkl`, data: pkl },
    { name: `${stem}/.format_version`, data: text('1') },
    { name: `${stem}/.storage_alignment`, data: text('64') },
    { name: `${stem}/byteorder`, data: text('little') },
    ...list.map(([, t], i) => ({
      name: `${stem}/data/${i}`,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })),
    { name: `${stem}/version`, data: text('3\n') },
  ];
  // torch derives the id from record CRCs and names; any 40 digits are accepted. Ours is
  // deterministic so that identical exports are byte-identical.
  let a = 0;
  let b = 0;
  for (const r of records) {
    a = crc32(r.data, a);
    b = crc32(r.name, b);
  }
  const id = String(a).padStart(20, '0') + String(b).padStart(20, '0');
  records.push({ name: `${stem}/.data/serialization_id`, data: text(id) });
  return encodeZip(records, { alignment: 64 });
}

/** Writes a torch.save file atomically (temp file + rename). */
export function writeTorchFile(
  path: string,
  stem: string,
  tensors: TensorEntries,
  opts: WriteTorchOptions = {},
): void {
  writeFileAtomic(path, encodeTorchFile(stem, tensors, opts));
}
