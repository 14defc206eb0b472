import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocQuantized, dequantizeRows, quantizeRows } from './blockwise.ts';
import { parseQuantize, type QuantScheme, schemeName } from './scheme.ts';

const rows = 3;
const K = 80; // not a multiple of 32: the last block is padded
const w = Float32Array.from(
  { length: rows * K },
  (_, i) => Math.sin(i * 1.3) * (1 + (i % 5)) * (i % 11 === 0 ? 0 : 1),
);

for (const name of ['int8', 'int4', 'int4-b16-zp', 'int8-b64-zp']) {
  test(`${name}: every weight within half a step of its block, zeros exact`, () => {
    const s = parseQuantize(name) as QuantScheme;
    assert.equal(schemeName(s), name.includes('-b') ? name : `${name}-b32`);
    const q = allocQuantized(rows, K, s);
    quantizeRows(w, rows, K, s, q);
    const back = dequantizeRows(q, rows, K, s);
    const kb = Math.ceil(K / s.blockSize);
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < K; k++) {
        const step = Math.abs(q.scales[r * kb + Math.floor(k / s.blockSize)]);
        const i = r * K + k;
        assert.ok(
          Math.abs(back[i] - w[i]) <= step / 2 + 1e-6,
          `w[${r},${k}] = ${w[i]} came back as ${back[i]}`,
        );
        if (w[i] === 0) assert.ok(back[i] === 0, `zero came back as ${back[i]}`);
      }
  });
}

test('4-bit codes: two per byte, lower index in the low nibble', () => {
  const s: QuantScheme = { bits: 4, blockSize: 16, zeroPoints: false };
  const row = Float32Array.from({ length: 16 }, (_, i) => (i === 0 ? -8 : i === 1 ? 7 : 0));
  const q = allocQuantized(1, 16, s);
  quantizeRows(row, 1, 16, s, q);
  assert.equal(q.scales[0], 1); // −8 is the largest magnitude: it maps to code 0, scale −8 / −8
  assert.equal(q.q[0], 0 | (15 << 4));
  assert.equal(q.q[1], 8 | (8 << 4)); // zeros sit at the zero point 8
});

test('parseQuantize refuses unknown forms with a clear message', () => {
  assert.equal(parseQuantize('none'), null);
  assert.throws(() => parseQuantize('int3'), /--quantize must be none, int8 or int4/);
  assert.throws(() => parseQuantize('int4-b48'), /--quantize/);
});
