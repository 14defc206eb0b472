// Uncompressed ("stored") zip archives, as torch.save writes them (PyTorchStreamWriter on miniz).
//
// Writer: mirrors torch's byte layout so our .bin files look like torch's own:
//   local header (version 0, flags 0x0808 = data descriptor + UTF-8 names, method 0, date/time 0,
//   crc and sizes 0) + name + an "FB" extra field of 'Z' padding so that every record's data starts
//   on a 64-byte boundary, then the data, then a data descriptor (PK\7\8 crc size size);
//   central directory; a zip64 end record + locator (torch always writes them, even for tiny files);
//   the classic end record.
// Reader: trusts only the central directory (local sizes are 0 because of the data descriptors),
//   validates every offset and size against the file, checks CRCs, and refuses compression,
//   encryption and archives that really need zip64 (we never write >4 GiB adapters). A zip64 end
//   record that merely repeats the classic one (torch's habit) is accepted.
// Left out: compression, multi-disk archives, comments on entries.

import { crc32 } from 'node:zlib';
import { FormatError } from '../errors.ts';

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

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const FLAGS = 0x0808; // bit 3: sizes in a data descriptor; bit 11: UTF-8 names
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
const END64_RECORD = 56;
const LOCATOR64 = 20;

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

/**
 * Parses a stored zip held in memory. `label` names the file in error messages.
 * Throws FormatError: truncated-file, bad-zip, unsupported-zip64, unsupported-compression, bad-crc.
 */
export function parseZip(buf: Buffer, label: string): ZipArchive {
  const truncated = (what: string) =>
    new FormatError('truncated-file', `${label}: ${what} (the file is truncated or not a zip archive)`);
  if (buf.length < END_RECORD) throw truncated(`only ${buf.length} bytes`);
  // The end record sits in the last 22 + up to 65535 (comment) bytes.
  let endAt = -1;
  for (let p = buf.length - END_RECORD; p >= Math.max(0, buf.length - END_RECORD - 0xffff); p--) {
    if (buf.readUInt32LE(p) === SIG_END && p + END_RECORD + buf.readUInt16LE(p + 20) === buf.length) {
      endAt = p;
      break;
    }
  }
  if (endAt < 0) throw truncated('no zip end-of-central-directory record');
  const disk = buf.readUInt16LE(endAt + 4);
  const cdDisk = buf.readUInt16LE(endAt + 6);
  const nHere = buf.readUInt16LE(endAt + 8);
  const nTotal = buf.readUInt16LE(endAt + 10);
  const cdSize = buf.readUInt32LE(endAt + 12);
  const cdOffset = buf.readUInt32LE(endAt + 16);
  if (nTotal === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new FormatError(
      'unsupported-zip64',
      `${label}: archive needs zip64 (over 65535 entries or 4 GiB), which is not supported`,
    );
  }
  if (disk !== 0 || cdDisk !== 0 || nHere !== nTotal) {
    throw new FormatError('bad-zip', `${label}: multi-disk zip archives are not supported`);
  }
  // torch's zip64 end record + locator: accept only when they agree with the classic record.
  let cdLimit = endAt;
  if (endAt >= LOCATOR64 && buf.readUInt32LE(endAt - LOCATOR64) === SIG_LOCATOR64) {
    const locAt = endAt - LOCATOR64;
    const e64At = Number(buf.readBigUInt64LE(locAt + 8));
    if (e64At + END64_RECORD > locAt || buf.readUInt32LE(e64At) !== SIG_END64) {
      throw new FormatError('bad-zip', `${label}: zip64 locator points to no zip64 end record`);
    }
    const n64 = Number(buf.readBigUInt64LE(e64At + 32));
    const size64 = Number(buf.readBigUInt64LE(e64At + 40));
    const off64 = Number(buf.readBigUInt64LE(e64At + 48));
    if (n64 !== nTotal || size64 !== cdSize || off64 !== cdOffset) {
      throw new FormatError(
        'unsupported-zip64',
        `${label}: zip64 end record disagrees with the classic one; zip64 archives are not supported`,
      );
    }
    cdLimit = e64At;
  }
  if (cdOffset + cdSize > cdLimit)
    throw truncated(`central directory (${cdOffset}+${cdSize}) runs past byte ${cdLimit}`);

  const records: ZipRecord[] = [];
  const byName = new Map<string, ZipRecord>();
  let p = cdOffset;
  for (let i = 0; i < nTotal; i++) {
    if (p + CENTRAL_HEADER > cdOffset + cdSize || buf.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new FormatError('bad-zip', `${label}: central directory entry ${i} is malformed`);
    }
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nl = buf.readUInt16LE(p + 28);
    const el = buf.readUInt16LE(p + 30);
    const cl = buf.readUInt16LE(p + 32);
    const lhOffset = buf.readUInt32LE(p + 42);
    if (p + CENTRAL_HEADER + nl + el + cl > cdOffset + cdSize) {
      throw new FormatError('bad-zip', `${label}: central directory entry ${i} runs past the directory`);
    }
    const name = buf.toString('utf8', p + CENTRAL_HEADER, p + CENTRAL_HEADER + nl);
    if (
      csize === 0xffffffff ||
      usize === 0xffffffff ||
      lhOffset === 0xffffffff ||
      hasExtra(buf, p + CENTRAL_HEADER + nl, el, 0x0001)
    ) {
      throw new FormatError(
        'unsupported-zip64',
        `${label}: entry ${name} uses zip64 sizes, which are not supported`,
      );
    }
    if (flags & 0x1) throw new FormatError('bad-zip', `${label}: entry ${name} is encrypted`);
    if (method !== 0 || csize !== usize) {
      throw new FormatError(
        'unsupported-compression',
        `${label}: entry ${name} is compressed (method ${method}); torch files are stored uncompressed`,
      );
    }
    if (lhOffset + LOCAL_HEADER > cdOffset)
      throw truncated(`entry ${name} has its header at ${lhOffset}, past the data area`);
    if (buf.readUInt32LE(lhOffset) !== SIG_LOCAL) {
      throw new FormatError('bad-zip', `${label}: entry ${name} has no local header at offset ${lhOffset}`);
    }
    const lnl = buf.readUInt16LE(lhOffset + 26);
    const lel = buf.readUInt16LE(lhOffset + 28);
    const dataOffset = lhOffset + LOCAL_HEADER + lnl + lel;
    if (dataOffset + csize > cdOffset) {
      throw truncated(`entry ${name} (${csize} bytes at ${dataOffset}) runs past the data area`);
    }
    if (buf.toString('utf8', lhOffset + LOCAL_HEADER, lhOffset + LOCAL_HEADER + lnl) !== name) {
      throw new FormatError('bad-zip', `${label}: entry ${name}: local and central names differ`);
    }
    if (byName.has(name)) throw new FormatError('bad-zip', `${label}: entry ${name} appears twice`);
    const rec = { name, dataOffset, size: csize, crc };
    records.push(rec);
    byName.set(name, rec);
    p += CENTRAL_HEADER + nl + el + cl;
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

function hasExtra(buf: Buffer, at: number, len: number, id: number): boolean {
  let p = at;
  while (p + 4 <= at + len) {
    if (buf.readUInt16LE(p) === id) return true;
    p += 4 + buf.readUInt16LE(p + 2);
  }
  return false;
}
