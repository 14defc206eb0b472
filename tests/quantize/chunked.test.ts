// A quantized matrix split by rows (quantize/linear.ts chunkedMatMulNBits: how the LM head of a large
// vocabulary stays within 256 MB when dequantized) computes the same product and the same dX as the
// whole matrix, with every chunk reading the same stored bytes.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildBackward } from '../../native-runtime/autodiff/backward.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { allocQuantized, quantizeRows } from '../../native-runtime/quantize/blockwise.ts';
import { chunkedMatMulNBits, type QuantizedMatrix } from '../../native-runtime/quantize/linear.ts';
import { parseQuantize, type QuantScheme } from '../../native-runtime/quantize/scheme.ts';
import { createSession, ort, runSession } from '../../native-runtime/runtime/session.ts';
import { tempDir } from '../helpers/temp.ts';

const N = 100; // rows: 7 chunks of 16 and one of 4 at maxElements 16·K
const K = 64;
const M = 3;

async function run(scheme: QuantScheme, maxElements: number) {
  const dir = tempDir('reft-chunk-');
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37));
  const q = allocQuantized(N, K, scheme);
  quantizeRows(w, N, K, scheme, q);
  writeFileSync(
    join(dir, 'w.bin'),
    Buffer.concat([Buffer.from(q.q), Buffer.from(q.scales.buffer), Buffer.from(q.zp)]),
  );
  const b = new GraphBuilder('chunked');
  const x = b.input('x', 'float32', [M, K]);
  const kb = K / scheme.blockSize;
  const ext = (offset: number, length: number) => ({
    kind: 'external' as const,
    location: 'w.bin',
    offset,
    length,
  });
  const m: QuantizedMatrix = {
    q: b.initializer('q', 'uint8', [N, kb, (scheme.blockSize * scheme.bits) / 8], ext(0, q.q.length)),
    scales: b.initializer('s', 'float32', [N, kb], ext(q.q.length, q.scales.byteLength)),
    zp: scheme.zeroPoints
      ? b.initializer('z', 'uint8', [N, q.zp.length / N], ext(q.q.length + q.scales.byteLength, q.zp.length))
      : null,
    N,
    K,
    scheme,
  };
  const y = chunkedMatMulNBits(b, x, m, 0, null, maxElements);
  const loss = b.reduceSum(b.mul(y, y), [0, 1], false);
  const dx = buildBackward(b, loss, [x]).get(x)!;
  b.output(y, 'y');
  b.output(dx, 'dx');
  const s = await createSession(b.graph, { weightsDir: dir, prepack: true });
  const xs = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.11));
  const out = await runSession(s, { x: new ort.Tensor('float32', xs, [M, K]) });
  const nodes = b.graph.nodes.filter((n) => n.op === 'MatMulNBits').length;
  return { y: out.y.data as Float32Array, dx: out.dx.data as Float32Array, nodes };
}

for (const name of ['int8', 'int4-b32-zp']) {
  test(`${name}: row chunks give the whole matrix's product and gradient`, async () => {
    const scheme = parseQuantize(name) as QuantScheme;
    const whole = await run(scheme, N * K);
    const split = await run(scheme, 16 * K);
    assert.equal(whole.nodes, 1);
    assert.equal(split.nodes, 7);
    for (const [a, c] of [
      [split.y, whole.y],
      [split.dx, whole.dx],
    ] as const) {
      let e = 0;
      for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - c[i]) / Math.max(1, Math.abs(c[i])));
      assert.ok(e <= 1e-5, `relative difference ${e}`);
    }
  });
}
