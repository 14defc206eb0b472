import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../tests/helpers/temp.ts';
import {
  encodeSafetensors,
  loadSafetensors,
  readSafetensorsHeader,
  readTensorBytes,
  writeSafetensors,
} from './safetensors.ts';

const dir = tempDir('st-');

/** A safetensors file with `header` as its JSON and `dataBytes` zero bytes of data. */
function fileWith(name: string, header: unknown, dataBytes = 16): string {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
  return p;
}

const t = (dtype: unknown, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });

test('a written file reads back (control)', () => {
  const p = join(dir, 'ok.safetensors');
  writeFileSync(
    p,
    encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) } }, { format: 'pt' }),
  );
  assert.deepEqual([...(loadSafetensors(p).get('a')?.data ?? [])], [1, 2]);
  assert.deepEqual(readSafetensorsHeader(p).metadata, { format: 'pt' });
});

test('negative, fractional, reversed, overlapping and out-of-range offsets are refused', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['negative', { a: t('F32', [2], [-8, 0]) }, 'bad-header', /data_offsets/],
    ['fractional', { a: t('F32', [1], [0.5, 4.5]) }, 'bad-header', /data_offsets/],
    ['reversed', { a: t('F32', [0], [8, 4]) }, 'bad-header', /byte range 8\.\.4/],
    ['not a pair', { a: t('F32', [1], [0, 4, 8]) }, 'bad-header', /data_offsets/],
    ['string', { a: t('F32', [1], ['0', '4']) }, 'bad-header', /data_offsets/],
    [
      'overlapping',
      { a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) },
      'bad-header',
      /tensors a and b overlap/,
    ],
    ['past the end', { a: t('F32', [8], [0, 32]) }, 'truncated-file', /ends at byte/],
    ['huge', { a: t('F32', [2 ** 40, 2 ** 40], [0, 16]) }, 'bad-header', /does not match shape/],
    ['shape not a list', { a: t('F32', '2', [0, 8]) }, 'bad-header', /shape/],
    ['negative dim', { a: t('F32', [-2], [0, 8]) }, 'bad-header', /shape/],
    ['prototype dtype', { a: t('constructor', [1], [0, 4]) }, 'bad-dtype', /unsupported dtype/],
    ['entry not an object', { a: 5 }, 'bad-header', /not an object/],
    [
      'metadata values',
      { __metadata__: { format: 5 }, a: t('F32', [1], [0, 4]) },
      'bad-header',
      /__metadata__/,
    ],
  ];
  for (const [name, header, code, msg] of cases) {
    const p = fileWith(`${name.replace(/ /g, '-')}.safetensors`, header);
    assert.throws(
      () => readSafetensorsHeader(p),
      (e: { code: string; message: string }) => {
        assert.equal(e.code, code, `${name}: ${e.message}`);
        assert.match(e.message, msg, name);
        // The file by its full path (two models' folders both hold model.safetensors).
        assert.ok(e.message.startsWith(`${p}: `), `${name}: ${e.message}`);
        return true;
      },
      name,
    );
  }
});

test('a header that is JSON but not an object is refused', () => {
  for (const h of [[1, 2], null, 'x']) {
    assert.throws(() => readSafetensorsHeader(fileWith('arr.safetensors', h)), { code: 'bad-header' });
  }
});

test('a file cut short after its header was read names its full path and the tensor being read', () => {
  const p = join(dir, 'cut.safetensors');
  writeFileSync(p, encodeSafetensors({ 'model.w': { dtype: 'F32', shape: [4], data: new Float32Array(4) } }));
  const info = readSafetensorsHeader(p).tensors.get('model.w');
  assert.ok(info);
  truncateSync(p, info.offset + 4);
  assert.throws(
    () => readTensorBytes(p, info),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'truncated-file');
      assert.ok(e.message.startsWith(`${p}: tensor model.w: `), e.message);
      return true;
    },
  );
});

test('writing a tensor whose bytes do not fit its shape names the file and the tensor', () => {
  const p = join(dir, 'bad-write.safetensors');
  assert.throws(
    () => writeSafetensors(p, { 'model.w': { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'bad-shape');
      assert.equal(e.message, `${p}: tensor model.w: 8 bytes do not match shape [3] F32`);
      return true;
    },
  );
});
