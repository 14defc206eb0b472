// Model folders made for tests: the llama fixture's architecture at another size, or with another
// tokenizer pattern.

import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeSyntheticCheckpoint } from '../../native-runtime/bench/synthetic.ts';
import { encodeSafetensors, type TensorToWrite } from '../../native-runtime/formats/safetensors.ts';
import { planSafetensors } from '../../native-runtime/formats/safetensors-stream.ts';
import { pyreftToStudio, writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { mulberry32 } from '../../native-runtime/generation/sampling.ts';
import { type InterventionSpec, interventionKey } from '../../native-runtime/interventions/kinds.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { trainingStartIssue } from '../../native-runtime/runtime/precision.ts';
import type { InterventionState, ReftBatch } from '../../native-runtime/training/reft-model.ts';
import { HouseholderParam } from '../../native-runtime/training/stiefel.ts';
import { FIXTURES, MODELS } from './fixtures.ts';
import { tempDir } from './temp.ts';

/**
 * A Llama folder like the fixture but with another hidden size. Zero weights where only shapes
 * count; `random` fills them from a seeded generator (memory tests: all-zero buffers can cost less).
 */
export function modelWithHidden(hidden: number, opts: { random?: boolean } = {}): string {
  const rng = mulberry32(1);
  const dir = join(tempDir('reft-model-'), `llama-h${hidden}`);
  mkdirSync(dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(MODELS, 'llama', 'config.json'), 'utf8'));
  const inter = hidden * 2;
  const head = cfg.head_dim as number;
  Object.assign(cfg, { hidden_size: hidden, intermediate_size: inter, num_attention_heads: hidden / head });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const V = cfg.vocab_size as number;
  const kv = (cfg.num_key_value_heads as number) * head;
  const t = (...shape: number[]): TensorToWrite => ({
    dtype: 'F32',
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
      opts.random ? (rng() - 0.5) * 0.1 : 0,
    ),
  });
  const w: Record<string, TensorToWrite> = {
    'lm_head.weight': t(V, hidden),
    'model.embed_tokens.weight': t(V, hidden),
    'model.norm.weight': t(hidden),
  };
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(w, {
      [`${p}input_layernorm.weight`]: t(hidden),
      [`${p}post_attention_layernorm.weight`]: t(hidden),
      [`${p}mlp.down_proj.weight`]: t(hidden, inter),
      [`${p}mlp.gate_proj.weight`]: t(inter, hidden),
      [`${p}mlp.up_proj.weight`]: t(inter, hidden),
      [`${p}self_attn.q_proj.weight`]: t(hidden, hidden),
      [`${p}self_attn.k_proj.weight`]: t(kv, hidden),
      [`${p}self_attn.v_proj.weight`]: t(kv, hidden),
      [`${p}self_attn.o_proj.weight`]: t(hidden, hidden),
    });
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(w, { format: 'pt' }));
  return dir;
}

/**
 * A Llama-7B-shaped folder of `layers` layers (hidden 4096, MLP 11008, vocabulary 32000) whose
 * model.safetensors is sparse: a real header, float32 tensors of zeros that take no disk. For memory
 * checks of a model far larger than the computer: only the header is ever read. The tokenizer is the
 * fixture's. Its float32 weights: about 0.81 GB a layer plus 1.05 GB.
 */
export function sparseLlama(parent: string, layers: number): string {
  const llama = join(MODELS, 'llama');
  const dir = join(parent, `sparse-llama-${layers}`);
  mkdirSync(dir, { recursive: true });
  const [H, I, V] = [4096, 11008, 32000];
  const cfg = JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8'));
  Object.assign(cfg, {
    hidden_size: H,
    intermediate_size: I,
    num_hidden_layers: layers,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    head_dim: 128,
    vocab_size: V,
    max_position_embeddings: 4096,
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  for (const f of readdirSync(llama))
    if (f !== 'config.json' && !f.endsWith('.safetensors')) symlinkSync(join(llama, f), join(dir, f));
  const shapes: Record<string, number[]> = {
    'lm_head.weight': [V, H],
    'model.embed_tokens.weight': [V, H],
    'model.norm.weight': [H],
  };
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(shapes, {
      [`${p}input_layernorm.weight`]: [H],
      [`${p}post_attention_layernorm.weight`]: [H],
      [`${p}mlp.down_proj.weight`]: [H, I],
      [`${p}mlp.gate_proj.weight`]: [I, H],
      [`${p}mlp.up_proj.weight`]: [I, H],
      [`${p}self_attn.q_proj.weight`]: [H, H],
      [`${p}self_attn.k_proj.weight`]: [H, H],
      [`${p}self_attn.v_proj.weight`]: [H, H],
      [`${p}self_attn.o_proj.weight`]: [H, H],
    });
  }
  // The header the streaming writer plans; the file extended to its full size is holes of zeros.
  const plan = planSafetensors(
    Object.keys(shapes)
      .sort()
      .map((name) => ({ name, dtype: 'F32', shape: shapes[name] })),
  );
  const file = join(dir, 'model.safetensors');
  writeFileSync(file, plan.header);
  truncateSync(file, plan.totalBytes);
  return dir;
}

/**
 * The smallest batch (a power of 2) whose int4 step of `tokens` on the CPU the engine refuses for
 * memory on this computer: a run that makes the memory check count its data's longest example.
 */
export async function smallestRefusedBatch(model: string, tokens: number): Promise<number> {
  const spec = loadModelSpec(model);
  let batch = 1;
  while (!(await trainingStartIssue(spec, { quantize: 'int4', device: 'cpu', batch, tokens }))) batch *= 2;
  return batch;
}

/**
 * A studio adapter folder for the model folder `model` (LoReFT of rank 1 after layer 0, W and b zero):
 * for checks of a model no test can load, such as sparseLlama's, which refuse before it is ever run.
 */
export function adapterFor(model: string, dir: string): string {
  const spec = loadModelSpec(model);
  const n = spec.hiddenSize;
  const R = new Float32Array(n);
  R[0] = 1;
  const zeros = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const iv = {
    key: interventionKey(0, 0),
    layer: 0,
    component: 'block_output' as const,
    type: 'loreft' as const,
  };
  writeStudioAdapter(
    dir,
    pyreftToStudio(
      {
        interventions: [
          {
            ...iv,
            embedDim: n,
            rank: 1,
            params: { R: { shape: [n, 1], data: R }, weight: zeros([1, n]), bias: zeros([1]) },
          },
        ],
      },
      { positions: 'f1', baseModel: { arch: spec.arch, fingerprint: spec.fingerprint } },
    ),
  );
  return dir;
}

/** config.json fields for a small Llama built by the synthetic builder (bench/synthetic.ts overrides). */
export const SMALL_SYNTHETIC = {
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 256,
};

/**
 * A bf16 Llama of 56M parameters with the byte-level tokenizer, written to `dir`: its int8 conversion
 * takes seconds here, far longer than a signal or a Cancel takes to arrive (the TinyLlama shape's
 * takes a minute). Returns `dir`.
 */
export async function slowToConvertLlama(dir: string): Promise<string> {
  await writeSyntheticCheckpoint('tinyllama-1.1b', dir, {
    dtype: 'bfloat16',
    overrides: {
      ...SMALL_SYNTHETIC,
      hidden_size: 512,
      num_hidden_layers: 8,
      intermediate_size: 1408,
      vocab_size: 32000,
    },
  });
  cpSync(join(FIXTURES, 'tokenizers', 'bytelevel'), dir, { recursive: true });
  return dir;
}

/** LoReFT of rank r on the residual stream after `layer` (linear, no dropout). */
export function loreftAt(spec: ModelSpec, layer: number, rank = 2): InterventionSpec {
  return {
    key: interventionKey(layer, 0),
    layer,
    type: 'loreft',
    rank,
    embedDim: spec.hiddenSize,
    act: 'linear',
    dropout: 0,
  };
}

/** LoReFT of rank r at one position of every layer: the graph-structure tests' intervention set. */
export function loreftOnEveryLayer(spec: ModelSpec, rank = 2): InterventionSpec[] {
  return Array.from({ length: spec.numLayers }, (_, layer) => loreftAt(spec, layer, rank));
}

/**
 * A fixed LoReFT batch of B rows × T tokens: ids from a fixed pattern, the first `prompt` tokens of
 * each row unlabeled, one intervention at positions 0 and 2 of row 0 and 1 and 2 of row 1 (B = 2).
 */
export function smallReftBatch(B: number, T: number, prompt: number): ReftBatch {
  const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(5 + ((i * 37) % 500)));
  const labels = ids.slice();
  for (let b = 0; b < B; b++) for (let t = 0; t < prompt; t++) labels[b * T + t] = -100n;
  return {
    inputIds: ids,
    attentionMask: new BigInt64Array(B * T).fill(1n),
    labels,
    dims: [B, T],
    locations: [{ data: BigInt64Array.of(0n, 2n, 1n, 2n), P: 2 }],
  };
}

/** A LoReFT state for `iv`: R with orthonormal columns (the identity's first), fixed W and b. */
export function loreftState(iv: InterventionSpec): InterventionState {
  const n = iv.embedDim,
    r = iv.rank;
  const R = new Float64Array(n * r);
  for (let i = 0; i < r; i++) R[i * r + i] = 1;
  const rot = HouseholderParam.fromR(R, n, r);
  return {
    spec: iv,
    rot,
    params: new Map([
      ['rotate_layer', { data: rot.forward(), shape: [n, r] }],
      ['weight', { data: Float32Array.from({ length: r * n }, (_, i) => Math.sin(i) * 0.1), shape: [r, n] }],
      ['bias', { data: Float32Array.from({ length: r }, (_, i) => (i % 2 ? -0.2 : 0.1)), shape: [r] }],
    ]),
  };
}

/**
 * A copy of the Llama fixture (links) in `parent`/`name` whose tokenizer.json splits text on
 * `pattern` first: a hostile tokenizer's pattern, such as one that backtracks without end.
 */
export function modelSplittingOn(parent: string, name: string, pattern: string): string {
  const llama = join(MODELS, 'llama');
  const model = join(parent, name);
  mkdirSync(model);
  for (const f of readdirSync(llama)) if (f !== 'tokenizer.json') symlinkSync(join(llama, f), join(model, f));
  const tj = JSON.parse(readFileSync(join(llama, 'tokenizer.json'), 'utf8'));
  tj.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      tj.pre_tokenizer,
    ],
  };
  writeFileSync(join(model, 'tokenizer.json'), JSON.stringify(tj));
  return model;
}
