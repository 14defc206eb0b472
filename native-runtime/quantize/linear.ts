// Quantized linear layers as graph fragments: y = x·Wᵀ through ONNX Runtime's MatMulNBits
// (com.microsoft) on the blockwise codes of a converted store (blockwise.ts, store.ts), and the
// gradient rule the autodiff walker uses for it. Weights are frozen, so only dX = dY·W is needed.
//
// The gradient dequantizes W from the same mapped bytes (a second initializer over the codes, read
// as uint4/uint8 (N, kb·block)) and multiplies: blocked DequantizeLinear gives q·s without the zero
// point, and the zero point's share z·(dY·S) is subtracted per block (S the (N, kb) scales), so no
// zero-point tensor is ever materialized. ORT does not constant-fold DequantizeLinear, so the
// dequantized weight exists only while its product runs. Measured alternatives are in ARCHITECTURE.md.

import { AutodiffError, UnsupportedError } from '../errors.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import type { Node, Value } from '../ir/graph.ts';
import type { QuantScheme } from './scheme.ts';

export const MS_DOMAIN = 'com.microsoft';

/** A quantized matrix of the store as graph initializers. */
export interface QuantizedMatrix {
  /** uint8 (N, kb, block·bits/8). */
  q: Value;
  /** float32 (N, kb). */
  scales: Value;
  /** uint8 (N, ceil(kb·bits/8)), or null for symmetric blocks. */
  zp: Value | null;
  N: number;
  K: number;
  scheme: QuantScheme;
}

/** y = x·Wᵀ (+ bias), x: (..., K) → (..., N). */
export function matMulNBits(
  b: GraphBuilder,
  x: Value,
  w: QuantizedMatrix,
  accuracyLevel: number,
  bias?: Value | null,
): Value {
  const ins: (Value | null)[] = [x, w.q, w.scales];
  if (w.zp) ins.push(w.zp);
  const y = b.op(
    'MatMulNBits',
    ins,
    { K: w.K, N: w.N, bits: w.scheme.bits, block_size: w.scheme.blockSize, accuracy_level: accuracyLevel },
    { domain: MS_DOMAIN, shapes: [[...x.shape.slice(0, -1), w.N]], dtypes: ['float32'] },
  );
  return bias ? b.add(y, bias) : y;
}

/** dX = dY·W for a MatMulNBits node, W dequantized from the node's own bytes. */
export function matMulNBitsGrad(gs: (Value | null)[], n: Node, b: GraphBuilder): (Value | null)[] {
  const gy = gs[0];
  const nulls = n.inputs.map(() => null);
  if (!gy) return nulls;
  const [x, q, scales, zp] = n.inputs as [Value, Value, Value, Value | null | undefined];
  const K = n.attrInt('K');
  const N = n.attrInt('N');
  const bits = n.attrInt('bits');
  const bs = n.attrInt('block_size');
  const kb = Math.ceil(K / bs);
  const Kp = kb * bs;
  if (!q.data || q.data.kind !== 'external' || !scales.data)
    throw new AutodiffError('grad-rule-failed', `MatMulNBits ${n.name}: weights must be stored initializers`);
  // The same bytes, as DequantizeLinear reads them: (N, kb·block) codes.
  const codes = b.initializer(`${q.name}.codes`, bits === 4 ? 'uint4' : 'uint8', [N, Kp], q.data);
  const s2 = scales.shape.length === 2 ? scales : b.reshape(scales, [N, kb]);
  const wqs = b.op(
    'DequantizeLinear',
    [codes, s2],
    { axis: 1, block_size: bs },
    { shapes: [[N, Kp]], dtypes: ['float32'] },
  );
  const lead = gy.shape.slice(0, -1);
  const dxq = b.matmul(gy, wqs); // (..., Kp): dY·(q·s)
  // Subtract dY·(z·s) per block: z a constant for symmetric blocks, else the stored zero points.
  let zs: Value;
  if (!zp) zs = b.mul(b.matmul(gy, s2), b.scalar(2 ** (bits - 1)));
  else {
    if (bits === 4 && kb % 2 === 1)
      throw new UnsupportedError(
        'unsupported-quantization',
        `MatMulNBits ${n.name}: training through asymmetric 4-bit blocks needs an even number of blocks per row (K=${K}, block ${bs})`,
      );
    const zcodes = b.initializer(`${zp.name}.codes`, bits === 4 ? 'uint4' : 'uint8', [N, kb], zp.data!);
    const zf = b.op(
      'DequantizeLinear',
      [zcodes, b.scalar(1)],
      {},
      { shapes: [[N, kb]], dtypes: ['float32'] },
    );
    // dY·(Z⊙S): Z⊙S formed from a dynamic (dequantized) value, so ORT cannot fold it into a copy.
    zs = b.matmul(gy, b.mul(zf, s2));
  }
  const perBlock = b.reshape(dxq, [...lead.map(() => 0), kb, bs], [...lead, kb, bs]);
  const corrected = b.sub(perBlock, b.unsqueeze(zs, [-1]));
  let dx = b.reshape(corrected, [...lead.map(() => 0), Kp], [...lead, Kp]);
  if (Kp !== K) dx = b.slice(dx, [0], [K], [-1]);
  if (x.shape[x.shape.length - 1] !== K)
    throw new AutodiffError(
      'grad-rule-failed',
      `MatMulNBits ${n.name}: input has ${x.shape.at(-1)} features, K=${K}`,
    );
  return [dx, ...nulls.slice(1)];
}
