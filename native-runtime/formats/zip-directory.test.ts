import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeZip, parseZip } from './zip.ts';
import {
  centralEntries,
  findZipEnd,
  locateEntryData,
  type ReadAt,
  type ZipStructureError,
} from './zip-directory.ts';

const inMemory =
  (buf: Buffer): ReadAt =>
  (pos, length) =>
    buf.subarray(pos, pos + length);

/**
 * A one-entry stored archive ("a.txt" = "hello") written the zip64 way: the central entry's sizes
 * and offset saturated and held in its zip64 extra field (`extraData` bytes of it), the classic end
 * record saturated and the real numbers in the zip64 end record.
 */
function zip64Archive(extraData = 24): Buffer {
  const name = Buffer.from('a.txt');
  const data = Buffer.from('hello');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46 + name.length + 4 + extraData);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt32LE(0xffffffff, 20);
  central.writeUInt32LE(0xffffffff, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt16LE(4 + extraData, 30);
  central.writeUInt32LE(0xffffffff, 42);
  name.copy(central, 46);
  const extra = 46 + name.length;
  central.writeUInt16LE(0x0001, extra);
  central.writeUInt16LE(extraData, extra + 2);
  // uncompressed size, compressed size, local header offset: 5, 5, 0
  if (extraData >= 16) {
    central.writeBigUInt64LE(5n, extra + 4);
    central.writeBigUInt64LE(5n, extra + 12);
  }
  const dirOffset = local.length + name.length + data.length;
  const e64 = Buffer.alloc(56);
  e64.writeUInt32LE(0x06064b50, 0);
  e64.writeBigUInt64LE(1n, 24);
  e64.writeBigUInt64LE(1n, 32);
  e64.writeBigUInt64LE(BigInt(central.length), 40);
  e64.writeBigUInt64LE(BigInt(dirOffset), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(dirOffset + central.length), 8);
  loc.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22, 0xff);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([local, name, data, central, e64, loc, end]);
}

test('a zip64 archive: numbers from the zip64 end record, sizes and offset from the extra field', () => {
  const buf = zip64Archive();
  const readAt = inMemory(buf);
  const end = findZipEnd(readAt, buf.length);
  assert.deepEqual(
    { count: end.count, offset: end.offset, limit: end.limit, classicCount: end.classic.count },
    { count: 1, offset: 40, limit: buf.length - 22 - 20 - 56, classicCount: 0xffff },
  );
  const [e, ...more] = [...centralEntries(readAt, end)];
  assert.equal(more.length, 0);
  assert.equal(Buffer.from(e.rawName).toString(), 'a.txt');
  assert.deepEqual([e.size, e.compressedSize, e.localOffset, e.zip64], [5, 5, 0, true]);
  assert.equal(buf.toString('utf8', locateEntryData(readAt, e, end), 40), 'hello');
  // The torch reader keeps refusing real zip64, in its own words.
  assert.throws(() => parseZip(buf, 'big.bin'), {
    code: 'unsupported-zip64',
    message: 'big.bin: archive needs zip64 (over 65535 entries or 4 GiB), which is not supported',
  });
});

test('a zip64 extra field too short for the saturated values is a structural fault', () => {
  const buf = zip64Archive(8); // room for the uncompressed size only
  const readAt = inMemory(buf);
  const walk = () => [...centralEntries(readAt, findZipEnd(readAt, buf.length))];
  assert.throws(walk, (err: ZipStructureError) => {
    assert.equal(err.reason, 'bad-zip64-extra');
    assert.equal(Buffer.from(err.entry?.rawName ?? []).toString(), 'a.txt');
    return true;
  });
});

test('the directory must lie before the end records, and an entry inside the directory', () => {
  const buf = Buffer.from(encodeZip([{ name: 'x', data: Buffer.from('12345') }], { zip64End: false }));
  const readAt = inMemory(buf);
  const end = findZipEnd(readAt, buf.length);
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as ZipStructureError).reason;
    }
  };
  assert.equal(
    reason(() => [...centralEntries(readAt, { ...end, size: end.size + 1 })]),
    'directory-out-of-bounds',
  );
  buf.writeUInt16LE(200, end.offset + 28); // the entry's name now runs past the directory
  assert.equal(
    reason(() => [...centralEntries(readAt, end)]),
    'entry-overruns-directory',
  );
  assert.equal(
    reason(() => findZipEnd(readAt, buf.length - 1)),
    'no-end-record',
  );
});
