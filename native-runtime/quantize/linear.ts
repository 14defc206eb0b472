// Quantized linear layers as graph fragments: y = x·Wᵀ through ONNX Runtime's MatMulNBits
// (com.microsoft) on the blockwise codes of a converted store (blockwise.ts, store.ts), and the
// gradient rule the autodiff walker uses for it. Weights are frozen, so only dX = dY·W is needed.
//
// Training sessions that pre-pack read a second layout, Ŵᵀ in int8 (backward-store.ts), with MatMulNBits
// again. Otherwise the gradient dequantizes W from the forward's own uint8 codes (nibbles split in the
// graph for int4) and multiplies, one way on the CPU (cpuProduct: q·s without the zero point, whose
// share z·(dY·S) is subtracted per block, so no zero-point matrix is made) and another on GPUs
// (gpuProduct: (q − z)·s in float32 with ops CUDA and WebGPU have kernels for; BaseWeights.onGpu).
// The first op on the codes takes a run-time operand, so ORT cannot constant-fold a float copy of the
// weights, and the dequantized weight exists only while its product runs. Measured alternatives are
// in ARCHITECTURE.md.

import { AutodiffError, UnsupportedError } from '../errors.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import type { DType } from '../ir/dtype.ts';
import type { ExternalData, Node, Value } from '../ir/graph.ts';
import { scalarLike } from '../models/layers.ts';
import { MAX_DEQUANTIZED_ELEMENTS } from './memory.ts';
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
  const ins: (Value | null)[] = [x, w.q, scalesAs(b, w.scales, x.dtype)];
  if (w.zp) ins.push(w.zp);
  const y = b.op(
    'MatMulNBits',
    ins,
    { K: w.K, N: w.N, bits: w.scheme.bits, block_size: w.scheme.blockSize, accuracy_level: accuracyLevel },
    { domain: MS_DOMAIN, shapes: [[...x.shape.slice(0, -1), w.N]], dtypes: [x.dtype] },
  );
  return bias ? b.add(y, bias) : y;
}

// Half-precision copies of stored scales, one per matrix and dtype however many nodes read it.
const halfScales = new WeakMap<Value, Map<DType, Value>>();

/**
 * A matrix's float32 scales in `dtype`, the type MatMulNBits (and DequantizeLinear) compute in:
 * half compute (fp16, or bf16 on CUDA) reads a cast declared once in the root graph, which ONNX
 * Runtime folds into a half copy when the session starts.
 */
export function scalesAs(b: GraphBuilder, scales: Value, dtype: DType): Value {
  if (dtype === scales.dtype) return scales;
  const m = halfScales.get(scales) ?? new Map<DType, Value>();
  halfScales.set(scales, m);
  const v = m.get(dtype) ?? b.root.cast(scales, dtype);
  m.set(dtype, v);
  return v;
}

/** Rows [r0, r1) of a stored quantized matrix, as initializers over the same bytes (no copy). */
export function rowSlice(b: GraphBuilder, m: QuantizedMatrix, r0: number, r1: number): QuantizedMatrix {
  const sub = (v: Value): Value => {
    const d = v.data as ExternalData;
    const rowBytes = d.length / m.N;
    return b.initializer(`${v.name}[${r0}:${r1}]`, v.dtype, [r1 - r0, ...(v.shape.slice(1) as number[])], {
      kind: 'external',
      location: d.location,
      offset: d.offset + r0 * rowBytes,
      length: (r1 - r0) * rowBytes,
    });
  };
  const q = sub(m.q);
  if (gpuCodes.has(m.q)) gpuCodes.add(q);
  return { ...m, q, scales: sub(m.scales), zp: m.zp && sub(m.zp), N: r1 - r0 };
}

/** matMulNBits over row chunks of at most MAX_DEQUANTIZED_ELEMENTS (memory.ts), outputs concatenated. */
export function chunkedMatMulNBits(
  b: GraphBuilder,
  x: Value,
  w: QuantizedMatrix,
  accuracyLevel: number,
  bias?: Value | null,
  maxElements = MAX_DEQUANTIZED_ELEMENTS,
): Value {
  const rows = Math.max(1, Math.floor(maxElements / w.K));
  if (w.N <= rows) return matMulNBits(b, x, w, accuracyLevel, bias);
  // One set of slices per matrix: the head is applied in several If branches.
  let slices = chunks.get(w.q);
  if (!slices || slices[0].N !== Math.min(rows, w.N)) {
    slices = [];
    for (let r0 = 0; r0 < w.N; r0 += rows) slices.push(rowSlice(b, w, r0, Math.min(w.N, r0 + rows)));
    chunks.set(w.q, slices);
  }
  const parts = slices.map((m) => matMulNBits(b, x, m, accuracyLevel));
  const y = b.concat(parts, -1, [...x.shape.slice(0, -1), w.N]);
  return bias ? b.add(y, bias) : y;
}

const chunks = new WeakMap<Value, QuantizedMatrix[]>();
// Ŵᵀ's int8 codes for a forward weight's codes, where the store has them (backward-store.ts).
const transposedOf = new WeakMap<Value, QuantizedMatrix>();

/** Lets the gradient of MatMulNBits nodes reading `q` use `t` (Ŵᵀ, K rows of N) instead of dequantizing. */
export function setTransposed(q: Value, t: QuantizedMatrix): void {
  transposedOf.set(q, t);
}
// Codes whose sessions run on a GPU provider (BaseWeights.onGpu): their backward avoids CPU-only ops.
const gpuCodes = new WeakSet<Value>();

/** Marks `q` as read by sessions on a GPU provider (see BaseWeights.onGpu). */
export function setGpuCodes(q: Value): void {
  gpuCodes.add(q);
}
// The backward's view of each weight's codes, one per weight however many nodes read it.
const codeViews = new WeakMap<Value, Value>();

interface CodeLayout {
  N: number;
  /** Inputs padded to whole blocks. */
  Kp: number;
  /** Blocks per row. */
  kb: number;
  bits: number;
  bs: number;
}

/**
 * dY·((q − z)·s), (..., Kp), on the CPU: the codes as uint8 (an int8 view; int4 nibbles split with
 * BitwiseAnd/BitShift), one blocked DequantizeLinear in the scales' dtype and a MatMul for dY·(q·s),
 * then the zero point's share dY·(z·s) subtracted per block, so no zero-point matrix is made.
 */
function cpuProduct(
  b: GraphBuilder,
  gy: Value,
  q: Value,
  s2: Value,
  zp: Value | null,
  { N, Kp, kb, bits, bs }: CodeLayout,
): Value {
  let codes: Value; // uint8 (N, Kp), one code per byte
  if (bits === 8) {
    // A view of the codes as (N, Kp): a Reshape whose shape depends on the run (gy's shape, worked out
    // on the host) copies nothing and leaves ORT nothing to fold.
    const runZero = b.sub(b.shapeOf(gy, 0, 1), b.shapeOf(gy, 0, 1));
    const shape = b.add(b.ints([N, Kp]), runZero);
    codes = b.op('Reshape', [q, shape], {}, { shapes: [[N, Kp]], dtypes: ['uint8'] });
  } else {
    // Two codes per byte, the low nibble first. (Float arithmetic, as on GPUs, would hold several
    // float copies of the matrix: +120 MB peak RSS at TinyLlama's shape, same speed.)
    const bytes = q.shape as number[];
    const zero = b.zeroAfter(gy, 'int64');
    const runtimeByte = (v: number) => b.cast(b.add(zero, b.const('int64', [v], [])), 'uint8');
    const lo = b.op('BitwiseAnd', [q, runtimeByte(15)], {}, { shapes: [bytes], dtypes: ['uint8'] });
    const hi = b.op(
      'BitShift',
      [q, runtimeByte(4)],
      { direction: 'RIGHT' },
      { shapes: [bytes], dtypes: ['uint8'] },
    );
    codes = b.reshape(
      b.concat([b.unsqueeze(lo, [-1]), b.unsqueeze(hi, [-1])], -1, [...bytes, 2]),
      [N, Kp],
      [N, Kp],
    );
  }
  // Blocked DequantizeLinear without a zero point: q·s, one matrix in the scales' dtype (the
  // compute dtype: the node reads them cast for half compute, scalesAs).
  const wqs = b.op(
    'DequantizeLinear',
    [codes, s2],
    { axis: 1, block_size: bs },
    { shapes: [[N, Kp]], dtypes: [s2.dtype] },
  );
  const dxq = b.matmul(gy, wqs);
  let zs: Value; // dY·(z·s), (..., kb)
  if (!zp) zs = b.mul(b.matmul(gy, s2), scalarLike(b, 2 ** (bits - 1), gy));
  else {
    let zcodes = codeViews.get(zp);
    if (!zcodes) {
      zcodes = b.initializer(`${zp.name}.codes`, bits === 4 ? 'uint4' : 'uint8', [N, kb], zp.data!);
      codeViews.set(zp, zcodes);
    }
    const zf = b.op(
      'DequantizeLinear',
      [zcodes, scalarLike(b, 1, s2)],
      {},
      { shapes: [[N, kb]], dtypes: [s2.dtype] },
    );
    // dY·(Z⊙S): Z⊙S formed from a dynamic (dequantized) value, so ORT cannot fold it into a copy.
    zs = b.matmul(gy, b.mul(zf, s2));
  }
  const lead = gy.shape.slice(0, -1);
  const perBlock = b.reshape(dxq, [...lead.map(() => 0), kb, bs], [...lead, kb, bs]);
  const corrected = b.sub(perBlock, b.unsqueeze(zs, [-1]));
  return b.reshape(corrected, [...lead.map(() => 0), Kp], [...lead, Kp]);
}

/**
 * The same on a GPU, with ops CUDA and WebGPU have kernels for: the CPU's BitwiseAnd/BitShift have
 * none there (ORT ran them on the CPU, copying every weight's codes off the device each step), and
 * CUDA's blocked DequantizeLinear takes only 4-bit types and no bfloat16. The bytes become float32
 * through a per-tensor DequantizeLinear with a run-time scale of 1; 4-bit codes split by arithmetic
 * (hi = ⌊byte/16⌋, lo = byte − 16·hi, exact for 0…255). (q − z)·s is formed in float32 before its
 * cast to the compute dtype, so a half-precision product does not subtract two large, nearly equal
 * products as the CPU's way does. Low and high 4-bit codes multiply dY as two half-width matrices
 * whose products interleave: no weight-sized concatenation.
 */
function gpuProduct(
  b: GraphBuilder,
  gy: Value,
  q: Value,
  s2: Value,
  zp: Value | null,
  { N, Kp, kb, bits }: CodeLayout,
): Value {
  const one = b.add(b.zeroAfter(gy, 'float32'), b.scalar(1));
  const asFloat = (v: Value) =>
    b.op('DequantizeLinear', [v, one], {}, { shapes: [v.shape], dtypes: ['float32'] });
  const nibbles = (f: Value): [Value, Value] => {
    const hi = b.op('Floor', [b.mul(f, b.scalar(1 / 16))]);
    return [b.sub(f, b.mul(hi, b.scalar(16))), hi];
  };
  // Zero points (N, kb, 1): the symmetric blocks' constant, or the stored ones split from their bytes.
  let z = b.scalar(2 ** (bits - 1));
  if (zp) {
    let zf = asFloat(zp); // (N, kb·bits/8)
    if (bits === 4) {
      const [lo, hi] = nibbles(zf);
      const half = zf.shape[1] as number;
      zf = b.reshape(
        b.concat([b.unsqueeze(lo, [-1]), b.unsqueeze(hi, [-1])], -1, [N, half, 2]),
        [N, kb],
        [N, kb],
      );
    }
    z = b.unsqueeze(zf, [-1]);
  }
  const s3 = b.unsqueeze(s2.dtype === 'float32' ? s2 : b.cast(s2, 'float32'), [-1]); // (N, kb, 1)
  const lead = gy.shape.slice(0, -1);
  // dY·((codes − z)·s) for codes (N, kb, c) in float32: a (..., kb·c) product.
  const times = (codes: Value) => {
    const width = kb * (codes.shape[2] as number);
    const w = b.reshape(b.mul(b.sub(codes, z), s3), [N, width], [N, width]);
    return b.matmul(gy, w.dtype === gy.dtype ? w : b.cast(w, gy.dtype as DType));
  };
  const qf = asFloat(q); // (N, kb, bs·bits/8)
  if (bits === 8) return times(qf);
  const [lo, hi] = nibbles(qf);
  const pairs = b.concat([b.unsqueeze(times(lo), [-1]), b.unsqueeze(times(hi), [-1])], -1, [
    ...lead,
    Kp / 2,
    2,
  ]);
  return b.reshape(pairs, [...lead.map(() => 0), Kp], [...lead, Kp]);
}

/** dX = dY·W for a MatMulNBits node, W dequantized from the node's own bytes. */
export function matMulNBitsGrad(gs: (Value | null)[], n: Node, b: GraphBuilder): (Value | null)[] {
  const gy = gs[0];
  const nulls = n.inputs.map(() => null);
  if (!gy) return nulls;
  const [x, q, scales, zp] = n.inputs as [Value, Value, Value, Value | null | undefined];
  const t = transposedOf.get(q);
  // Half-precision gradients are not quantized to int8 on their way through Ŵᵀ: measured on the CPU,
  // float16 gradients through the int8-compute kernels (accuracy_level 4) were 30–50% off the exact
  // ones, float32 3% (tests/runtime/half-precision.test.ts); CUDA ignores the level.
  if (t) {
    const level = gy.dtype === 'float32' ? n.attrInt('accuracy_level', 4) : 0;
    return [matMulNBits(b, gy, t, level), ...nulls.slice(1)];
  }
  const K = n.attrInt('K');
  const N = n.attrInt('N');
  const bits = n.attrInt('bits');
  const bs = n.attrInt('block_size');
  const kb = Math.ceil(K / bs);
  const Kp = kb * bs;
  if (q.data?.kind !== 'external')
    throw new AutodiffError('grad-rule-failed', `MatMulNBits ${n.name}: weights must be stored initializers`);
  if (bits === 4 && zp && kb % 2 === 1)
    throw new UnsupportedError(
      'unsupported-quantization',
      `MatMulNBits ${n.name}: training through asymmetric 4-bit blocks needs an even number of blocks per row (K=${K}, block ${bs})`,
    );
  // q·s from the forward's own uint8 codes (N, kb, block·bits/8): a second initializer over the same
  // bytes (as uint4 for DequantizeLinear) would be mapped again by ORT and counted twice in RSS. The
  // first op on the codes takes a run-time operand (a shape, or a scale, worked out from the
  // gradient), so ORT cannot constant-fold a float copy of every weight, and it runs only when the
  // gradient exists.
  const s2 = scales.shape.length === 2 ? scales : b.reshape(scales, [N, kb]);
  const product = gpuCodes.has(q) ? gpuProduct : cpuProduct;
  let dx = product(b, gy, q, s2, zp ?? null, { N, Kp, kb, bits, bs }); // (..., Kp)
  if (Kp !== K) dx = b.slice(dx, [0], [K], [-1]);
  if (x.shape[x.shape.length - 1] !== K)
    throw new AutodiffError(
      'grad-rule-failed',
      `MatMulNBits ${n.name}: input has ${x.shape.at(-1)} features, K=${K}`,
    );
  return [dx, ...nulls.slice(1)];
}
