// Test helpers for quantized bases: a fixture model converted into a temp data folder, and the
// independent reference: an fp32 model folder whose matrices are the store's codes dequantized in
// JavaScript (blockwise.ts), run by the plain fp32 engine.

import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeTensor,
  loadSafetensors,
  readSafetensorsHeader,
  readTensorBytes,
  type TensorToWrite,
  writeSafetensors,
} from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { dequantizeRows } from '../../native-runtime/quantize/blockwise.ts';
import { headScheme, parseQuantize, type QuantScheme } from '../../native-runtime/quantize/scheme.ts';
import { STORE_FILE } from '../../native-runtime/quantize/store.ts';
import { tempDir } from '../helpers/temp.ts';

/** The fixture at `dir` in form `quantize`, converted into a fresh data folder. */
export async function quantizedSpec(
  dir: string,
  quantize: string,
  opts: { dataDir?: string; accuracyLevel?: number } = {},
): Promise<ModelSpec> {
  const spec = await prepareBase(loadModelSpec(dir), parseQuantize(quantize), {
    dataDir: opts.dataDir ?? tempDir('reft-quant-'),
  });
  if (opts.accuracyLevel !== undefined && spec.base) spec.base.accuracyLevel = opts.accuracyLevel;
  return spec;
}

/**
 * An fp32 copy of the checkpoint at `srcDir` whose quantized matrices are replaced by their
 * dequantized values from the store of `q` (head untied, since the store quantizes it on its own).
 */
export function dequantizedFolder(srcDir: string, q: ModelSpec): string {
  const scheme = q.base!.scheme as QuantScheme;
  const store = join(q.base!.dir!, STORE_FILE);
  const header = readSafetensorsHeader(store);
  const read = (name: string) => {
    const info = header.tensors.get(name)!;
    return readTensorBytes(store, info);
  };
  const out = join(tempDir('reft-dequant-'), 'model');
  mkdirSync(out, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
    if (existsSync(join(srcDir, f))) copyFileSync(join(srcDir, f), join(out, f));
  const cfg = JSON.parse(readFileSync(join(srcDir, 'config.json'), 'utf8'));
  cfg.tie_word_embeddings = false;
  writeFileSync(join(out, 'config.json'), JSON.stringify(cfg, null, 2));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of loadSafetensors(join(srcDir, 'model.safetensors'))) {
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
    tensors[name] = { dtype: 'F32', shape: t.shape, data };
  }
  for (const name of header.tensors.keys()) {
    const m = /^(.*)\.qweight$/.exec(name);
    if (!m) continue;
    const base = m[1];
    const s = base === 'lm_head.weight' ? headScheme(scheme) : scheme;
    const [N, kb] = header.tensors.get(`${base}.scales`)!.shape;
    const conv1d = /\.(c_attn|c_proj|c_fc)\.weight$/.test(base);
    const K =
      base === 'lm_head.weight' ? q.hiddenSize : conv1d ? tensors[base].shape[0] : tensors[base].shape[1];
    const w = dequantizeRows(
      {
        q: new Uint8Array(read(name)),
        scales: decodeTensor(read(`${base}.scales`), 'F32') as Float32Array,
        zp: s.zeroPoints ? new Uint8Array(read(`${base}.qzeros`)) : new Uint8Array(0),
      },
      N,
      K,
      s,
    );
    if (kb * s.blockSize < K) throw new Error('bad block grid');
    if (conv1d) {
      const t = new Float32Array(N * K);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = w[n * K + k];
      tensors[base] = { dtype: 'F32', shape: [K, N], data: t };
    } else tensors[base] = { dtype: 'F32', shape: [N, K], data: w };
  }
  writeSafetensors(join(out, 'model.safetensors'), tensors, { format: 'pt' });
  return out;
}

/** max |a − b|, the RMS of b, max / RMS and the relative RMS error ‖a − b‖ / ‖b‖. */
export function errorVsRms(
  a: Float32Array,
  b: Float32Array,
): { max: number; rms: number; ratio: number; rmsErr: number } {
  let max = 0;
  let ss = 0;
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    max = Math.max(max, Math.abs(d));
    ss += b[i] * b[i];
    se += d * d;
  }
  const rms = Math.sqrt(ss / b.length);
  return { max, rms, ratio: max / rms, rmsErr: Math.sqrt(se / ss) };
}
