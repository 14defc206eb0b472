// Blockwise weight quantization in the layout of ONNX Runtime's MatMulNBits (com.microsoft): a
// Linear weight W (N outputs, K inputs) is cut along K into blocks of `blockSize`; each block stores
// `bits`-bit unsigned codes q, an fp32 scale s and a zero point z, and stands for W = (q − z)·s.
//   B       uint8 (N, kb, blockSize·bits/8), kb = ceil(K / blockSize); 4-bit codes two per byte,
//           the element with the lower index in the low nibble; a short last block padded with z
//   scales  float32 (N, kb)
//   zp      uint8 (N, ceil(kb·bits/8)), packed like B; absent for symmetric blocks (z = 2^(bits−1))
// Symmetric blocks map the block's largest-magnitude value m to the most negative code (s = m / −2^(bits−1),
// as llama.cpp's Q4_0 and Q8_0 do), so the full code range is used. Asymmetric blocks span [min, max].
// The dequantizer here is the independent reference the tests check the ORT kernels against.

import type { QuantScheme } from './scheme.ts';

export interface QuantizedRows {
  q: Uint8Array;
  scales: Float32Array;
  /** Packed zero points; empty for symmetric schemes. */
  zp: Uint8Array;
}

export function blocksPerRow(K: number, s: QuantScheme): number {
  return Math.ceil(K / s.blockSize);
}

/** Allocates the output of quantizeRows for `rows` rows of K inputs. */
export function allocQuantized(rows: number, K: number, s: QuantScheme): QuantizedRows {
  const kb = blocksPerRow(K, s);
  return {
    q: new Uint8Array((rows * kb * s.blockSize * s.bits) / 8),
    scales: new Float32Array(rows * kb),
    zp: new Uint8Array(s.zeroPoints ? rows * Math.ceil((kb * s.bits) / 8) : 0),
  };
}

/** Quantizes `rows` rows of K floats (row-major) into `out` (from allocQuantized). */
export function quantizeRows(
  src: Float32Array,
  rows: number,
  K: number,
  s: QuantScheme,
  out: QuantizedRows,
): void {
  const bs = s.blockSize;
  const kb = blocksPerRow(K, s);
  const levels = (1 << s.bits) - 1;
  const mid = 1 << (s.bits - 1);
  const zpRow = Math.ceil((kb * s.bits) / 8);
  const codes = new Uint8Array(bs);
  for (let r = 0; r < rows; r++) {
    const row = r * K;
    for (let blk = 0; blk < kb; blk++) {
      const k0 = blk * bs;
      const k1 = Math.min(K, k0 + bs);
      let scale: number;
      let zero: number;
      if (s.zeroPoints) {
        let lo = 0;
        let hi = 0; // the range always contains 0, so 0 is exact (padding, ReLU-like rows)
        for (let k = k0; k < k1; k++) {
          const v = src[row + k];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = (hi - lo) / levels;
        zero = scale === 0 ? mid : Math.min(levels, Math.max(0, Math.round(-lo / scale)));
      } else {
        let m = 0;
        for (let k = k0; k < k1; k++) {
          const v = src[row + k];
          if (Math.abs(v) > Math.abs(m)) m = v;
        }
        scale = m / -mid;
        zero = mid;
      }
      const inv = scale === 0 ? 0 : 1 / scale;
      codes.fill(zero);
      for (let k = k0; k < k1; k++) {
        const c = Math.round(src[row + k] * inv) + zero;
        codes[k - k0] = Math.min(Math.max(c, 0), levels);
      }
      const bi = r * kb + blk;
      out.scales[bi] = scale;
      if (s.bits === 8) out.q.set(codes, bi * bs);
      else {
        const base = (bi * bs) / 2;
        for (let j = 0; j < bs; j += 2) out.q[base + j / 2] = codes[j] | (codes[j + 1] << 4);
      }
      if (s.zeroPoints) {
        if (s.bits === 8) out.zp[r * zpRow + blk] = zero;
        else out.zp[r * zpRow + (blk >> 1)] |= blk & 1 ? zero << 4 : zero;
      }
    }
  }
}

/** W = (q − z)·s for `rows` rows, as (rows, K) float32: the reference for tests and conversions. */
export function dequantizeRows(qr: QuantizedRows, rows: number, K: number, s: QuantScheme): Float32Array {
  const bs = s.blockSize;
  const kb = blocksPerRow(K, s);
  const mid = 1 << (s.bits - 1);
  const zpRow = Math.ceil((kb * s.bits) / 8);
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let blk = 0; blk < kb; blk++) {
      const bi = r * kb + blk;
      const scale = qr.scales[bi];
      let zero = mid;
      if (s.zeroPoints) {
        const z = qr.zp[r * zpRow + (s.bits === 8 ? blk : blk >> 1)];
        zero = s.bits === 8 ? z : blk & 1 ? z >> 4 : z & 15;
      }
      const k0 = blk * bs;
      const k1 = Math.min(K, k0 + bs);
      for (let k = k0; k < k1; k++) {
        const j = k - k0;
        const code = s.bits === 8 ? qr.q[bi * bs + j] : (qr.q[(bi * bs + j) >> 1] >> ((j & 1) * 4)) & 15;
        out[r * K + k] = (code - zero) * scale;
      }
    }
  }
  return out;
}
