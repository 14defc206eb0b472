// Uncompressed ("stored") zip archives, as torch.save writes them (PyTorchStreamWriter on miniz).
//
// Writer: mirrors torch's byte layout so our .bin files look like torch's own:
//   local header (version 0, flags 0x0808 = data descriptor + UTF-8 names, method 0, date/time 0,
//   crc and sizes 0) + name + an "FB" extra field of 'Z' padding so that every record's data starts
//   on a 64-byte boundary, then the data, then a data descriptor (PK\7\8 crc size size);
//   central directory; a zip64 end record + locator (torch always writes them, even for tiny files);
//   the classic end record.
// Reader: trusts only the central directory (local sizes are 0 because of the data descriptors),
//   read and bounds-checked by zip-directory.ts (shared with uploaded zips); here: CRC checks, and
//   compression, encryption and archives that really need zip64 are refused (we never write >4 GiB
//   adapters). A zip64 end record that merely repeats the classic one (torch's habit) is accepted.
// Left out: compression, multi-disk archives, comments on entries.

import { crc32 } from 'node:zlib';
import { FormatError } from '../errors.ts';
import {
  CENTRAL_HEADER,
  centralEntries,
  END_RECORD,
  END64_RECORD,
  findZipEnd,
  LOCAL_HEADER,
  LOCATOR64,
  locateEntryData,
  type ReadAt,
  SIG_CENTRAL,
  SIG_END,
  SIG_END64,
  SIG_LOCAL,
  SIG_LOCATOR64,
  ZipStructureError,
} from './zip-directory.ts';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

export interface WriteZipOptions {
  /** Data alignment in bytes (torch uses 64). */
  alignment?: number;
  /** Write the zip64 end record and locator as torch does (default true). */
  zip64End?: boolean;
}

const SIG_DESCRIPTOR = 0x08074b50;
const FLAGS = 0x0808; // bit 3: sizes in a data descriptor; bit 11: UTF-8 names

// ---------------------------------------------------------------------------------------------
// Writer

/** Serializes entries, in order, into a stored zip laid out like torch.save's. */
export function encodeZip(entries: ZipEntry[], opts: WriteZipOptions = {}): Buffer {
  const align = opts.alignment ?? 64;
  const zip64End = opts.zip64End ?? true;
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new FormatError('bad-zip', `zip entry ${e.name} given twice`);
    seen.add(e.name);
    const name = Buffer.from(e.name, 'utf8');
    // torch always writes the FB field (4 bytes) and pads after it to the alignment.
    const start = pos + LOCAL_HEADER + name.length + 4;
    const pad = (align - (start % align)) % align;
    const extra = Buffer.alloc(4 + pad, 'Z'.charCodeAt(0));
    extra.write('FB', 0, 'latin1');
    extra.writeUInt16LE(pad, 2);
    const crc = crc32(e.data) >>> 0;
    const size = e.data.length;
    if (size >= 0xffffffff || pos >= 0xffffffff) {
      throw new FormatError('unsupported-zip64', `zip entry ${e.name} would need zip64 (over 4 GiB)`);
    }

    const lh = Buffer.alloc(LOCAL_HEADER);
    lh.writeUInt32LE(SIG_LOCAL, 0);
    lh.writeUInt16LE(0, 4); // version needed (torch writes 0)
    lh.writeUInt16LE(FLAGS, 6);
    // method, time, date, crc, sizes all 0; the descriptor carries crc and sizes
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(extra.length, 28);
    const dd = Buffer.alloc(16);
    dd.writeUInt32LE(SIG_DESCRIPTOR, 0);
    dd.writeUInt32LE(crc, 4);
    dd.writeUInt32LE(size, 8);
    dd.writeUInt32LE(size, 12);
    parts.push(lh, name, extra, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength), dd);

    const ch = Buffer.alloc(CENTRAL_HEADER);
    ch.writeUInt32LE(SIG_CENTRAL, 0);
    ch.writeUInt16LE(0, 4); // version made by
    ch.writeUInt16LE(0, 6); // version needed
    ch.writeUInt16LE(FLAGS, 8);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(size, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(pos, 42);
    central.push(ch, name);

    pos += LOCAL_HEADER + name.length + extra.length + size + dd.length;
  }
  const cdOffset = pos;
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const n = entries.length;
  const tail: Buffer[] = [];
  if (zip64End) {
    const e64 = Buffer.alloc(END64_RECORD);
    e64.writeUInt32LE(SIG_END64, 0);
    e64.writeBigUInt64LE(BigInt(END64_RECORD - 12), 4);
    e64.writeUInt16LE(0x031e, 12); // version made by, as miniz writes it
    e64.writeUInt16LE(0x002d, 14); // version needed: 4.5
    e64.writeBigUInt64LE(BigInt(n), 24);
    e64.writeBigUInt64LE(BigInt(n), 32);
    e64.writeBigUInt64LE(BigInt(cdSize), 40);
    e64.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(LOCATOR64);
    loc.writeUInt32LE(SIG_LOCATOR64, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(e64, loc);
  }
  const end = Buffer.alloc(END_RECORD);
  end.writeUInt32LE(SIG_END, 0);
  end.writeUInt16LE(n, 8);
  end.writeUInt16LE(n, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdOffset, 16);
  tail.push(end);
  return Buffer.concat([...parts, ...central, ...tail]);
}

// ---------------------------------------------------------------------------------------------
// Reader

export interface ZipRecord {
  name: string;
  /** Absolute offset of the record's data in the archive. */
  dataOffset: number;
  size: number;
  crc: number;
}

export interface ZipArchive {
  records: ZipRecord[];
  get(name: string): ZipRecord | undefined;
  /** The record's bytes (a view into the archive buffer), CRC-checked. */
  read(name: string): Buffer;
}

const U32_MAX = 0xffffffff;
const nameOf = (e: { rawName: Uint8Array }) => Buffer.from(e.rawName).toString('utf8');
const truncated = (label: string, what: string) =>
  new FormatError('truncated-file', `${label}: ${what} (the file is truncated or not a zip archive)`);
const zip64Entry = (label: string, name: string) =>
  new FormatError('unsupported-zip64', `${label}: entry ${name} uses zip64 sizes, which are not supported`);

/**
 * Parses a stored zip held in memory. `label` names the file in error messages.
 * Throws FormatError: truncated-file, bad-zip, unsupported-zip64, unsupported-compression, bad-crc.
 */
export function parseZip(buf: Buffer, label: string): ZipArchive {
  if (buf.length < END_RECORD) throw truncated(label, `only ${buf.length} bytes`);
  const readAt: ReadAt = (pos, length) => buf.subarray(pos, pos + length);
  const records: ZipRecord[] = [];
  const byName = new Map<string, ZipRecord>();
  try {
    const end = findZipEnd(readAt, buf.length);
    const { classic, zip64 } = end;
    if (classic.count === 0xffff || classic.size === U32_MAX || classic.offset === U32_MAX) {
      throw new FormatError(
        'unsupported-zip64',
        `${label}: archive needs zip64 (over 65535 entries or 4 GiB), which is not supported`,
      );
    }
    // torch's zip64 end record + locator: accept only when they agree with the classic record.
    if (
      zip64 &&
      (zip64.count !== classic.count || zip64.size !== classic.size || zip64.offset !== classic.offset)
    ) {
      throw new FormatError(
        'unsupported-zip64',
        `${label}: zip64 end record disagrees with the classic one; zip64 archives are not supported`,
      );
    }
    for (const e of centralEntries(readAt, end)) {
      const name = nameOf(e);
      if (e.zip64 || e.compressedSize === U32_MAX || e.size === U32_MAX || e.localOffset === U32_MAX)
        throw zip64Entry(label, name);
      if (e.flags & 0x1) throw new FormatError('bad-zip', `${label}: entry ${name} is encrypted`);
      if (e.method !== 0 || e.compressedSize !== e.size) {
        throw new FormatError(
          'unsupported-compression',
          `${label}: entry ${name} is compressed (method ${e.method}); torch files are stored uncompressed`,
        );
      }
      const dataOffset = locateEntryData(readAt, e, end);
      if (byName.has(name)) throw new FormatError('bad-zip', `${label}: entry ${name} appears twice`);
      const rec = { name, dataOffset, size: e.compressedSize, crc: e.crc };
      records.push(rec);
      byName.set(name, rec);
    }
  } catch (err) {
    throw err instanceof ZipStructureError ? structureError(err, label) : err;
  }
  return {
    records,
    get: (name) => byName.get(name),
    read(name) {
      const r = byName.get(name);
      if (!r) throw new FormatError('bad-zip', `${label}: no entry ${name}`);
      const data = buf.subarray(r.dataOffset, r.dataOffset + r.size);
      if (crc32(data) >>> 0 !== r.crc)
        throw new FormatError('bad-crc', `${label}: entry ${name} fails its CRC check (corrupted)`);
      return data;
    },
  };
}

/** A structural fault of the archive, in this reader's codes and words. */
function structureError(err: ZipStructureError, label: string): FormatError {
  const e = err.entry;
  const name = e ? nameOf(e) : '';
  switch (err.reason) {
    case 'no-end-record':
      return truncated(label, 'no zip end-of-central-directory record');
    case 'directory-out-of-bounds':
      return truncated(label, err.message);
    case 'bad-zip64-locator':
      return new FormatError('bad-zip', `${label}: zip64 locator points to no zip64 end record`);
    case 'multi-disk':
      return new FormatError('bad-zip', `${label}: multi-disk zip archives are not supported`);
    case 'entry-malformed':
    case 'entry-overruns-directory':
      return new FormatError('bad-zip', `${label}: ${err.message}`);
    case 'bad-zip64-extra':
      return zip64Entry(label, name);
    case 'local-header-out-of-bounds':
      return truncated(label, `entry ${name} has its header at ${e?.localOffset}, past the data area`);
    case 'no-local-header':
      return new FormatError(
        'bad-zip',
        `${label}: entry ${name} has no local header at offset ${e?.localOffset}`,
      );
    case 'data-out-of-bounds':
      return truncated(
        label,
        `entry ${name} (${e?.compressedSize} bytes at ${err.dataOffset}) runs past the data area`,
      );
    case 'local-name-differs':
      return new FormatError('bad-zip', `${label}: entry ${name}: local and central names differ`);
  }
}
