// One size convention for the CLI and the studio: decimal units (1 KB = 1000 bytes), as the Hub and
// the engine's messages write them. The CLI's lists once divided by 1024 and still said KB/MB.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes as cliBytes } from '../cli/units.ts';
import { formatBytes as studioBytes } from '../renderer/src/lib/format.ts';
import { byteSize, MIB, memoryGiB } from './byte-size.ts';

test('byteSize: decimal units, a decimal place below 100 of a unit', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [1536, '1.5 KB'],
    [99_940, '99.9 KB'],
    [100_000, '100 KB'],
    [999_400, '999 KB'],
    [999_960, '1.0 MB'],
    [1_500_000, '1.5 MB'],
    [16 * 1024 * 1024, '16.8 MB'],
    [2_500_000_000, '2.5 GB'],
    [3.2e12, '3.2 TB'],
  ];
  for (const [n, text] of cases) assert.equal(byteSize(n), text, String(n));
});

test('the CLI and the studio write the same size the same way', () => {
  for (const n of [1_500_000, 12_884_901_888, 1_048_576]) assert.equal(cliBytes(n), studioBytes(n));
  assert.equal(cliBytes(1_500_000), '1.5 MB');
  assert.equal(cliBytes(null), '-');
  assert.equal(studioBytes(null), '—');
});

test('a GPU or computer memory label is in GiB, as the maker states it', () => {
  assert.equal(memoryGiB(24564 * MIB), '24 GiB');
  assert.equal(memoryGiB(12288 * MIB), '12 GiB');
  assert.equal(memoryGiB(23.4 * 2 ** 30, 1), '23.4 GiB');
});
