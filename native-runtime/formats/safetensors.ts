// safetensors: read headers (for in-place external data), read tensors as typed arrays, write files.
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[a,b]}},
// then the raw data; offsets are relative to the end of the header. We never load a whole large file:
// headers are read with a small positioned read, tensors on demand.

import { closeSync, fstatSync, openSync } from 'node:fs';
import { FormatError } from '../errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { openRegularFile } from './json-file.ts';
import { readFullyAt } from './read-at.ts';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  dataStart: number;
  fileSize: number;
}

/** Bytes per element of each safetensors dtype (also how the Hub sizes a repository's weights). */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function dtypeBytes(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPE_BYTES[dtype];
}

/** `what`: the tensor being read, named in the error after the file's full path. */
function readExact(fd: number, buf: Buffer, position: number, path: string, what?: string): void {
  if (readFullyAt(fd, buf, position) < buf.length)
    throw new FormatError(
      'truncated-file',
      `${path}: ${what ? `tensor ${what}: ` : ''}file is truncated (wanted ${buf.length} bytes at offset ${position})`,
    );
}

/** Reads and validates the header of a safetensors file (every tensor must lie inside the file). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openRegularFile(path, path);
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8)
      throw new FormatError(
        'truncated-file',
        `${path}: too short to be a safetensors file (${fileSize} bytes)`,
      );
    const lenBuf = Buffer.alloc(8);
    readExact(fd, lenBuf, 0, path);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > 100_000_000 || 8 + headerLen > fileSize) {
      throw new FormatError(
        'truncated-file',
        `${path}: header length ${headerLen} exceeds the file size ${fileSize} (truncated or not safetensors)`,
      );
    }
    const hbuf = Buffer.alloc(headerLen);
    readExact(fd, hbuf, 8, path);
    let json: unknown;
    try {
      json = JSON.parse(hbuf.toString('utf8'));
    } catch {
      throw new FormatError('bad-header', `${path}: header is not valid JSON`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json))
      throw new FormatError('bad-header', `${path}: header is not a JSON object`);
    const dataStart = 8 + headerLen;
    const tensors = parseHeaderEntries(
      json as Record<string, unknown>,
      path,
      fileSize - dataStart,
      dataStart,
    );
    const meta = (json as Record<string, unknown>).__metadata__;
    const metadata: Record<string, string> = {};
    if (meta !== undefined && meta !== null) {
      if (typeof meta !== 'object' || Array.isArray(meta))
        throw new FormatError('bad-header', `${path}: __metadata__ is not an object`);
      for (const [k, v] of Object.entries(meta)) {
        if (typeof v !== 'string')
          throw new FormatError('bad-header', `${path}: __metadata__ value for ${k} is not a string`);
        metadata[k] = v;
      }
    }
    return { path, tensors, metadata, dataStart, fileSize };
  } finally {
    closeSync(fd);
  }
}

const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * The tensor entries of a header, each checked as the reference implementation does: a known dtype,
 * a shape of non-negative integers, and a byte range [a, b) of integers with 0 ≤ a ≤ b ≤ data size
 * whose length matches shape × dtype; ranges may not overlap. Nothing else in a header is trusted.
 */
function parseHeaderEntries(
  json: Record<string, unknown>,
  path: string,
  dataSize: number,
  dataStart: number,
): Map<string, TensorInfo> {
  const bad = (msg: string) => new FormatError('bad-header', `${path}: ${msg}`);
  const tensors = new Map<string, TensorInfo>();
  const ranges: Array<[number, number, string]> = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`tensor ${name} is not an object`);
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t.dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, t.dtype))
      throw new FormatError(
        'bad-dtype',
        `${path}: tensor ${name} has unsupported dtype ${String(t.dtype).slice(0, 20)}`,
      );
    const dtype = t.dtype as SafetensorsDtype;
    if (!Array.isArray(t.shape) || t.shape.length > 16 || !t.shape.every(isIndex))
      throw bad(`tensor ${name} has a shape that is not a list of non-negative integers`);
    const shape = t.shape as number[];
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex))
      throw bad(`tensor ${name} has data_offsets that are not two non-negative integers`);
    const [a, b] = offs as [number, number];
    const numel = shape.reduce((x, y) => x * y, 1);
    if (
      a > b ||
      !Number.isSafeInteger(numel * SAFETENSORS_DTYPE_BYTES[dtype]) ||
      b - a !== numel * SAFETENSORS_DTYPE_BYTES[dtype]
    ) {
      throw bad(`tensor ${name} byte range ${a}..${b} does not match shape [${shape}] ${dtype}`);
    }
    if (b > dataSize) {
      throw new FormatError(
        'truncated-file',
        `${path}: tensor ${name} ends at byte ${dataStart + b} but the file has ${dataStart + dataSize} bytes (truncated)`,
      );
    }
    ranges.push([a, b, name]);
    tensors.set(name, { name, dtype, shape, offset: dataStart + a, byteLength: b - a });
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < ranges.length; i++) {
    const [a, , name] = ranges[i];
    const [, prevEnd, prev] = ranges[i - 1];
    if (a < prevEnd) throw bad(`tensors ${prev} and ${name} overlap (byte ${a} < ${prevEnd})`);
  }
  return tensors;
}

export function readTensorBytes(path: string, info: TensorInfo): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(info.byteLength);
    readExact(fd, buf, info.offset, path, info.name);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Int16Array
  | Int8Array
  | Uint8Array;

function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return out;
}

function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) out[i] = s * 2 ** -14 * (m / 1024);
    else if (e === 31) out[i] = m ? Number.NaN : s * Number.POSITIVE_INFINITY;
    else out[i] = s * 2 ** (e - 15) * (1 + m / 1024);
  }
  return out;
}

/** Decodes raw bytes to a typed array; F16/BF16 are widened to Float32. */
export function decodeTensor(buf: Buffer, dtype: SafetensorsDtype): NumericArray {
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab);
    case 'F64':
      return new Float64Array(ab);
    case 'F16':
      return f16ToF32(new Uint16Array(ab));
    case 'BF16':
      return bf16ToF32(new Uint16Array(ab));
    case 'I64':
      return new BigInt64Array(ab);
    case 'I32':
      return new Int32Array(ab);
    case 'I16':
      return new Int16Array(ab);
    case 'I8':
      return new Int8Array(ab);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(ab);
  }
}

export interface LoadedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: NumericArray;
}

/** Loads every tensor of a (small) safetensors file into memory. */
export function loadSafetensors(path: string): Map<string, LoadedTensor> {
  const h = readSafetensorsHeader(path);
  const out = new Map<string, LoadedTensor>();
  for (const info of h.tensors.values()) {
    out.set(info.name, {
      dtype: info.dtype,
      shape: info.shape,
      data: decodeTensor(readTensorBytes(path, info), info.dtype),
    });
  }
  return out;
}

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView;
}

/** Serializes tensors (sorted by name, 8-byte aligned header as the reference implementation does). */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
  /** The file the bytes are for, named first in errors. */
  where?: string,
): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const n of names) {
    const t = tensors[n];
    const numel = t.shape.reduce((x, y) => x * y, 1);
    if (t.data.byteLength !== numel * SAFETENSORS_DTYPE_BYTES[t.dtype]) {
      throw new FormatError(
        'bad-shape',
        `${where ? `${where}: ` : ''}tensor ${n}: ${t.data.byteLength} bytes do not match shape [${t.shape}] ${t.dtype}`,
      );
    }
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let hjson = JSON.stringify(header);
  hjson += ' '.repeat((8 - (Buffer.byteLength(hjson) % 8)) % 8);
  const hbuf = Buffer.from(hjson, 'utf8');
  const out = Buffer.alloc(8 + hbuf.length + off);
  out.writeBigUInt64LE(BigInt(hbuf.length), 0);
  hbuf.copy(out, 8);
  let p = 8 + hbuf.length;
  for (const n of names) {
    const d = tensors[n].data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, p);
    p += d.byteLength;
  }
  return out;
}

export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}
