// The central directory of a zip archive, read through a `readAt` callback so that the same code
// serves a torch.save file held in memory (zip.ts parseZip) and an uploaded zip read from a file
// descriptor (electron/backend/library/unpack-zip.ts).
//
// Structure only: it finds the end record (a comment allowed after it), follows the zip64 locator
// to the zip64 end record, walks the entries with their zip64 extra field and checks that every
// offset lies in the file and every entry in the directory. It decides nothing about what an entry
// may be (compression, encryption, zip64, names, limits): each caller has its own policy and its own
// error types and wording, so a structural fault is thrown as a ZipStructureError whose `reason` the
// caller maps to its own error.

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_END = 0x06054b50;
export const SIG_END64 = 0x06064b50;
export const SIG_LOCATOR64 = 0x07064b50;
export const LOCAL_HEADER = 30;
export const CENTRAL_HEADER = 46;
export const END_RECORD = 22;
export const END64_RECORD = 56;
export const LOCATOR64 = 20;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA = 0x0001;
const U32_MAX = 0xffffffff;

/** Reads up to `length` bytes at `pos`; fewer only where the file ends. */
export type ReadAt = (pos: number, length: number) => Uint8Array;

export type ZipStructureReason =
  | 'no-end-record'
  | 'bad-zip64-locator'
  | 'multi-disk'
  | 'directory-out-of-bounds'
  | 'entry-malformed'
  | 'entry-overruns-directory'
  | 'bad-zip64-extra'
  | 'local-header-out-of-bounds'
  | 'no-local-header'
  | 'data-out-of-bounds'
  | 'local-name-differs';

/** A structural fault; callers turn it into their own error (never shown as is). */
export class ZipStructureError extends Error {
  constructor(
    readonly reason: ZipStructureReason,
    message: string,
    /** The entry it is about, where it is about one: its index and raw name (the whole entry for
     *  the local header's faults). */
    readonly entry?: Pick<CentralEntry, 'index' | 'rawName'> & Partial<CentralEntry>,
    /** For data-out-of-bounds: where the entry's data starts. */
    readonly dataOffset?: number,
  ) {
    super(message);
    this.name = 'ZipStructureError';
  }
}

interface DirectoryNumbers {
  count: number;
  size: number;
  offset: number;
}

export interface ZipEnd extends DirectoryNumbers {
  /** The classic end record's own numbers (saturated, 0xffff / 0xffffffff, where zip64 holds them). */
  classic: DirectoryNumbers;
  /** The zip64 end record's numbers, when a locator points to one; the top-level ones are these. */
  zip64: (DirectoryNumbers & { at: number }) | null;
  /** Where the directory must end: the zip64 end record, else the classic end record. */
  limit: number;
}

export interface CentralEntry {
  index: number;
  /** The name's bytes as stored (a view into the directory). */
  rawName: Uint8Array;
  /** General-purpose flag bit 11: the name is UTF-8. */
  utf8: boolean;
  flags: number;
  method: number;
  crc: number;
  /** Sizes and local header offset, from the zip64 extra field where the 32-bit ones are saturated. */
  compressedSize: number;
  size: number;
  localOffset: number;
  /** The host that made the entry (high byte of "version made by"; 3 = Unix). */
  madeBy: number;
  /** The high 16 bits of the external attributes: the Unix mode when madeBy is 3. */
  mode: number;
  /** The entry has a zip64 extra field. */
  zip64: boolean;
}

const asBuffer = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Finds the end of central directory record (it must end the file, after its comment) and, when a
 * zip64 locator precedes it, the zip64 end record. Refuses archives split over several disks.
 */
export function findZipEnd(readAt: ReadAt, fileSize: number): ZipEnd {
  const tailStart = Math.max(0, fileSize - END_RECORD - MAX_COMMENT);
  const tail = asBuffer(readAt(tailStart, fileSize - tailStart));
  let endAt = -1;
  for (let p = tail.length - END_RECORD; p >= 0; p--) {
    if (
      tail.readUInt32LE(p) === SIG_END &&
      tailStart + p + END_RECORD + tail.readUInt16LE(p + 20) === fileSize
    ) {
      endAt = p;
      break;
    }
  }
  if (endAt < 0) throw new ZipStructureError('no-end-record', 'no end of central directory record');
  const disk = tail.readUInt16LE(endAt + 4);
  const dirDisk = tail.readUInt16LE(endAt + 6);
  const countHere = tail.readUInt16LE(endAt + 8);
  const classic = {
    count: tail.readUInt16LE(endAt + 10),
    size: tail.readUInt32LE(endAt + 12),
    offset: tail.readUInt32LE(endAt + 16),
  };
  const end = tailStart + endAt;

  let zip64: ZipEnd['zip64'] = null;
  const locator = end >= LOCATOR64 ? asBuffer(readAt(end - LOCATOR64, LOCATOR64)) : null;
  if (locator?.length === LOCATOR64 && locator.readUInt32LE(0) === SIG_LOCATOR64) {
    const at = Number(locator.readBigUInt64LE(8));
    const rec = at + END64_RECORD <= end - LOCATOR64 ? asBuffer(readAt(at, END64_RECORD)) : null;
    if (!rec || rec.length < END64_RECORD || rec.readUInt32LE(0) !== SIG_END64)
      throw new ZipStructureError('bad-zip64-locator', 'the zip64 locator points to no zip64 end record');
    // Its disk numbers (this one, the directory's) say whether the archive spans several disks.
    if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0)
      throw new ZipStructureError('multi-disk', 'the archive spans several disks');
    zip64 = {
      at,
      count: Number(rec.readBigUInt64LE(32)),
      size: Number(rec.readBigUInt64LE(40)),
      offset: Number(rec.readBigUInt64LE(48)),
    };
  }
  // The classic disk numbers say 0, or are saturated where the zip64 record holds them.
  const one = (v: number) => v === 0 || (zip64 !== null && v === 0xffff);
  if (!one(disk) || !one(dirDisk) || countHere !== classic.count)
    throw new ZipStructureError('multi-disk', 'the archive spans several disks');
  const numbers = zip64 ?? classic;
  return {
    count: numbers.count,
    size: numbers.size,
    offset: numbers.offset,
    classic,
    zip64,
    limit: zip64 ? zip64.at : end,
  };
}

/**
 * The directory's entries, in order. A generator, so that a caller's checks on one entry run before
 * a later entry's structure is looked at (the first fault met is the one reported). The directory
 * is read whole at the first step; the caller bounds its size beforehand where it must.
 */
export function* centralEntries(readAt: ReadAt, end: ZipEnd): Generator<CentralEntry> {
  if (end.offset + end.size > end.limit)
    throw new ZipStructureError(
      'directory-out-of-bounds',
      `central directory (${end.offset}+${end.size}) runs past byte ${end.limit}`,
    );
  const dir = asBuffer(readAt(end.offset, end.size));
  if (dir.length < end.size)
    throw new ZipStructureError(
      'directory-out-of-bounds',
      `central directory (${end.offset}+${end.size}) runs past byte ${end.offset + dir.length}`,
    );
  let p = 0;
  for (let index = 0; index < end.count; index++) {
    if (p + CENTRAL_HEADER > dir.length || dir.readUInt32LE(p) !== SIG_CENTRAL)
      throw new ZipStructureError('entry-malformed', `central directory entry ${index} is malformed`);
    const flags = dir.readUInt16LE(p + 8);
    let compressedSize = dir.readUInt32LE(p + 20);
    let size = dir.readUInt32LE(p + 24);
    const nameLen = dir.readUInt16LE(p + 28);
    const extraLen = dir.readUInt16LE(p + 30);
    const commentLen = dir.readUInt16LE(p + 32);
    let localOffset = dir.readUInt32LE(p + 42);
    const next = p + CENTRAL_HEADER + nameLen + extraLen + commentLen;
    if (next > dir.length)
      throw new ZipStructureError(
        'entry-overruns-directory',
        `central directory entry ${index} runs past the directory`,
      );
    const rawName = dir.subarray(p + CENTRAL_HEADER, p + CENTRAL_HEADER + nameLen);
    // Zip64 extra field: the 64-bit values of the fields saturated above, in this order.
    const extra = dir.subarray(p + CENTRAL_HEADER + nameLen, p + CENTRAL_HEADER + nameLen + extraLen);
    let zip64 = false;
    for (let e = 0; e + 4 <= extra.length; e += 4 + extra.readUInt16LE(e + 2)) {
      if (extra.readUInt16LE(e) !== ZIP64_EXTRA) continue;
      zip64 = true;
      let q = e + 4;
      const big = () => {
        if (q + 8 > extra.length)
          throw new ZipStructureError(
            'bad-zip64-extra',
            `central directory entry ${index} has a damaged zip64 field`,
            { index, rawName },
          );
        const v = Number(extra.readBigUInt64LE(q));
        q += 8;
        return v;
      };
      if (size === U32_MAX) size = big();
      if (compressedSize === U32_MAX) compressedSize = big();
      if (localOffset === U32_MAX) localOffset = big();
    }
    yield {
      index,
      rawName,
      utf8: (flags & 0x800) !== 0,
      flags,
      method: dir.readUInt16LE(p + 10),
      crc: dir.readUInt32LE(p + 16),
      compressedSize,
      size,
      localOffset,
      madeBy: dir.readUInt16LE(p + 4) >> 8,
      mode: dir.readUInt32LE(p + 38) >>> 16,
      zip64,
    };
    p = next;
  }
}

/**
 * Where `entry`'s data starts, from its local header. The header and the data must lie before the
 * central directory, and the header must carry the same name as the directory.
 */
export function locateEntryData(readAt: ReadAt, entry: CentralEntry, end: ZipEnd): number {
  const { index, rawName, localOffset } = entry;
  const limit = end.offset;
  if (localOffset + LOCAL_HEADER > limit)
    throw new ZipStructureError(
      'local-header-out-of-bounds',
      `entry ${index}'s local header at ${localOffset} is past the data area`,
      entry,
    );
  const h = asBuffer(readAt(localOffset, Math.min(LOCAL_HEADER + rawName.length, limit - localOffset)));
  if (h.length < LOCAL_HEADER || h.readUInt32LE(0) !== SIG_LOCAL)
    throw new ZipStructureError(
      'no-local-header',
      `entry ${index} has no local header at ${localOffset}`,
      entry,
    );
  const nameLen = h.readUInt16LE(26);
  const dataOffset = localOffset + LOCAL_HEADER + nameLen + h.readUInt16LE(28);
  if (dataOffset + entry.compressedSize > limit)
    throw new ZipStructureError(
      'data-out-of-bounds',
      `entry ${index}'s data runs past the data area`,
      entry,
      dataOffset,
    );
  if (nameLen !== rawName.length || !h.subarray(LOCAL_HEADER).equals(rawName))
    throw new ZipStructureError(
      'local-name-differs',
      `entry ${index}'s local and central names differ`,
      entry,
    );
  return dataOffset;
}
