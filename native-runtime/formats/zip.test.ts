import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import { encodeZip, parseZip } from './zip.ts';

const FIXTURE =
  'tests/fixtures/golden/reft/gpt2-loreft-f1l1/pyreft_init/intkey_layer_1_comp_block_output_unit_pos_nunit_1#0.bin';

const entries = () => [
  { name: 'a/data.pkl', data: Buffer.from('pickle bytes') },
  { name: 'a/data/0', data: new Uint8Array(1000).map((_, i) => i & 0xff) },
  { name: 'a/version', data: Buffer.from('3\n') },
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('zip round trip keeps names, bytes and 64-byte data alignment', () => {
  const buf = encodeZip(entries());
  const z = parseZip(buf, 'x.zip');
  assert.deepEqual(
    z.records.map((r) => r.name),
    ['a/data.pkl', 'a/data/0', 'a/version'],
  );
  for (const e of entries()) {
    assert.deepEqual(new Uint8Array(z.read(e.name)), new Uint8Array(e.data));
    assert.equal(z.get(e.name)!.dataOffset % 64, 0);
  }
});

test('reads the fixture torch wrote (data descriptors, zip64 end record) and its layout matches ours', () => {
  const buf = readFileSync(FIXTURE);
  const z = parseZip(buf, 'fixture.bin');
  assert.equal(z.records.length, 9);
  for (const r of z.records) assert.equal(r.dataOffset % 64, 0);
  // Re-encoding the same records reproduces torch's archive byte for byte.
  const again = encodeZip(z.records.map((r) => ({ name: r.name, data: z.read(r.name) })));
  assert.deepEqual(again, buf);
});

test('python zipfile reads our archives and checks their CRCs', () => {
  const dir = tempDir('zip-');
  const p = join(dir, 'x.zip');
  writeFileSync(p, encodeZip(entries()));
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(",".join(z.namelist()))',
      p,
    ],
    { encoding: 'utf8' },
  );
  if (r.error) return; // no python at all: nothing to compare with
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'a/data.pkl,a/data/0,a/version');
});

test('a truncated archive is refused as truncated-file, naming the file', () => {
  const buf = encodeZip(entries());
  for (const cut of [10, 500, buf.length - 30, buf.length - 1]) {
    try {
      parseZip(buf.subarray(0, cut), 'intkey_x.bin');
      assert.fail('expected an error');
    } catch (e) {
      assert.equal((e as { code: string }).code, 'truncated-file', `cut at ${cut}: ${(e as Error).message}`);
      assert.match((e as Error).message, /intkey_x\.bin/);
    }
  }
});

test('offsets pointing outside the file are refused', () => {
  const buf = Buffer.from(encodeZip(entries(), { zip64End: false }));
  const end = buf.length - 22;
  buf.writeUInt32LE(buf.length + 100, end + 16); // central directory offset past the end
  assert.equal(
    codeOf(() => parseZip(buf, 'x')),
    'truncated-file',
  );
});

test('a corrupted record fails its CRC check', () => {
  const buf = Buffer.from(encodeZip(entries()));
  const z = parseZip(buf, 'x');
  buf[z.get('a/data/0')!.dataOffset + 5] ^= 0xff;
  assert.equal(
    codeOf(() => parseZip(buf, 'x').read('a/data/0')),
    'bad-crc',
  );
});

test('archives that need zip64 or use compression are refused clearly', () => {
  const plain = Buffer.from(encodeZip(entries(), { zip64End: false }));
  const z64 = Buffer.from(plain);
  z64.writeUInt32LE(0xffffffff, z64.length - 22 + 16);
  assert.equal(
    codeOf(() => parseZip(z64, 'x')),
    'unsupported-zip64',
  );

  // a zip64 end record that disagrees with the classic one
  const withEnd64 = Buffer.from(encodeZip(entries()));
  const e64 = withEnd64.length - 22 - 20 - 56;
  withEnd64.writeBigUInt64LE(99n, e64 + 32);
  assert.equal(
    codeOf(() => parseZip(withEnd64, 'x')),
    'unsupported-zip64',
  );

  const deflated = Buffer.from(plain);
  const cd = deflated.readUInt32LE(deflated.length - 22 + 16);
  deflated.writeUInt16LE(8, cd + 10); // method 8 = deflate in the first central entry
  assert.equal(
    codeOf(() => parseZip(deflated, 'x')),
    'unsupported-compression',
  );
});

test('a zip64 end record naming another disk is refused as multi-disk', () => {
  // The classic record's disk numbers were checked, the zip64 record's were not (the upload
  // reader's check, now shared, reads them).
  const buf = Buffer.from(encodeZip(entries()));
  const e64 = buf.length - 22 - 20 - 56;
  buf.writeUInt32LE(1, e64 + 16); // "this is disk 1"
  assert.throws(() => parseZip(buf, 'x.bin'), {
    code: 'bad-zip',
    message: 'x.bin: multi-disk zip archives are not supported',
  });
});
