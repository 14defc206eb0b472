// Weight index: where each tensor of a Hugging Face checkpoint lives (file + byte range), for a
// single `model.safetensors` or shards listed in `model.safetensors.index.json`. Only headers are
// read; the graph builders point ONNX external data straight at these byte ranges.
//
// Also the per-architecture list of expected tensor names and shapes (Hugging Face naming), and
// the check that the weights on disk match config.json, so a wrong config fails at load time with
// a message naming the file, the tensor and the config field, not deep inside ONNX Runtime.
//
// Leaves out: pytorch_model.bin (torch pickles are handled by formats/torch-save), GGUF, quantized
// checkpoints.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FormatError } from '../errors.ts';
import { readSafetensorsHeader, type SafetensorsHeader, type TensorInfo } from '../formats/safetensors.ts';
import { configFieldName, type ModelSpec } from './config.ts';

export interface WeightEntry {
  /** Absolute real path (symlinks resolved, as ONNX external data requires). */
  file: string;
  info: TensorInfo;
}

export class WeightIndex {
  /** The folder the weights were opened from. */
  readonly dir: string;
  /** 'model.safetensors' or 'model.safetensors.index.json': the file to name in messages. */
  readonly source: string;
  /** One parsed header per file, in file-name order. */
  readonly headers: SafetensorsHeader[];
  readonly #entries = new Map<string, WeightEntry>();

  constructor(
    dir: string,
    source: string,
    headers: SafetensorsHeader[],
    aliases: Map<string, string> = new Map(),
  ) {
    this.dir = dir;
    this.source = source;
    this.headers = headers;
    for (const h of headers) {
      for (const info of h.tensors.values())
        this.#entries.set(aliases.get(info.name) ?? info.name, { file: h.path, info });
    }
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The tensor's file and header entry; throws FormatError 'missing-weight' when absent. */
  get(name: string): WeightEntry {
    const e = this.#entries.get(name);
    if (!e)
      throw new FormatError('missing-weight', `${this.source}: tensor ${name} not found in ${this.dir}`);
    return e;
  }

  tryGet(name: string): WeightEntry | undefined {
    return this.#entries.get(name);
  }

  /** Every tensor name, sorted. */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The file name (relative to the folder) holding a tensor, for messages. */
  fileOf(name: string): string {
    const e = this.#entries.get(name);
    return e ? basename(e.file) : this.source;
  }
}

/**
 * GPT-2 checkpoints from the original OpenAI conversion store `wte.weight`, `h.0.…` without the
 * `transformer.` prefix that GPT2LMHeadModel uses; give them their canonical names.
 */
function gpt2Aliases(names: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  const list = [...names];
  if (list.some((n) => n.startsWith('transformer.'))) return out;
  if (!list.includes('wte.weight')) return out;
  for (const n of list) if (/^(wte|wpe|ln_f|h\.\d+)\./.test(n)) out.set(n, `transformer.${n}`);
  return out;
}

function realFile(dir: string, name: string, referrer: string): string {
  const p = join(dir, name);
  if (!existsSync(p))
    throw new FormatError(
      'missing-file',
      `${name}: not found in ${dir}${referrer ? ` (listed in ${referrer})` : ''}`,
    );
  return realpathSync(p);
}

/** Opens the weights of a model folder: model.safetensors, or the shards of an index. */
export function openWeightIndex(dir: string): WeightIndex {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  if (existsSync(indexPath)) {
    let weightMap: Record<string, unknown>;
    try {
      const json = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown };
      if (!json.weight_map || typeof json.weight_map !== 'object') throw new Error('no weight_map object');
      weightMap = json.weight_map as Record<string, unknown>;
    } catch (e) {
      throw new FormatError('bad-json', `model.safetensors.index.json: ${(e as Error).message}`);
    }
    const shardNames = [...new Set(Object.values(weightMap))];
    for (const s of shardNames) {
      // Shard names must be plain file names inside the folder (no traversal out of it).
      if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s === '..') {
        throw new FormatError(
          'bad-json',
          `model.safetensors.index.json: weight_map value ${JSON.stringify(s)} is not a file name in the folder`,
        );
      }
    }
    const sorted = (shardNames as string[]).sort();
    const headers = sorted.map((s) =>
      readSafetensorsHeader(realFile(dir, s, 'model.safetensors.index.json')),
    );
    const byName = new Map(headers.map((h, i) => [sorted[i], h]));
    for (const [tensor, shard] of Object.entries(weightMap)) {
      if (!byName.get(shard as string)?.tensors.has(tensor)) {
        throw new FormatError(
          'bad-index',
          `model.safetensors.index.json: ${tensor} is mapped to ${shard as string}, which does not contain it`,
        );
      }
    }
    return new WeightIndex(dir, 'model.safetensors.index.json', headers, gpt2Aliases(Object.keys(weightMap)));
  }
  if (existsSync(single)) {
    const header = readSafetensorsHeader(realpathSync(single));
    return new WeightIndex(dir, 'model.safetensors', [header], gpt2Aliases(header.tensors.keys()));
  }
  const hint =
    existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'))
      ? ' (only pytorch_model.bin found: convert it to safetensors)'
      : '';
  throw new FormatError(
    'missing-file',
    `model.safetensors: not found in ${dir} (and no model.safetensors.index.json)${hint}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Expected tensors per architecture.

export interface ExpectedWeight {
  name: string;
  shape: number[];
  /** Present in some checkpoints but not needed (a tied lm_head). */
  optional?: boolean;
  /** For each dimension, the config field(s) it comes from, e.g. "intermediate_size=160". */
  dims?: string[];
  /** The config field that makes this tensor exist, e.g. "attention_bias=true". */
  because?: string;
}

/** Hugging Face tensor names and shapes that `spec` implies. */
export function expectedWeights(spec: ModelSpec): ExpectedWeight[] {
  const f = (field: Parameters<typeof configFieldName>[1], value: number | boolean) =>
    `${configFieldName(spec.arch, field)}=${value}`;
  const D = spec.hiddenSize;
  const dH = f('hiddenSize', D);
  const dI = f('intermediateSize', spec.intermediateSize);
  const dV = f('vocabSize', spec.vocabSize);
  const out: ExpectedWeight[] = [];
  const add = (name: string, shape: number[], dims: string[], extra: Partial<ExpectedWeight> = {}) =>
    out.push({ name, shape, dims, ...extra });
  const layers = f('numLayers', spec.numLayers);

  if (spec.arch === 'gpt2') {
    // Conv1D stores weights as [in, out] (the transpose of nn.Linear).
    add('transformer.wte.weight', [spec.vocabSize, D], [dV, dH]);
    add('transformer.wpe.weight', [spec.maxPositions, D], [f('maxPositions', spec.maxPositions), dH]);
    for (let i = 0; i < spec.numLayers; i++) {
      const p = `transformer.h.${i}`;
      const b = { because: layers };
      add(`${p}.ln_1.weight`, [D], [dH], b);
      add(`${p}.ln_1.bias`, [D], [dH], b);
      add(`${p}.attn.c_attn.weight`, [D, 3 * D], [dH, `3×${dH}`], b);
      add(`${p}.attn.c_attn.bias`, [3 * D], [`3×${dH}`], b);
      add(`${p}.attn.c_proj.weight`, [D, D], [dH, dH], b);
      add(`${p}.attn.c_proj.bias`, [D], [dH], b);
      add(`${p}.ln_2.weight`, [D], [dH], b);
      add(`${p}.ln_2.bias`, [D], [dH], b);
      add(`${p}.mlp.c_fc.weight`, [D, spec.intermediateSize], [dH, dI], b);
      add(`${p}.mlp.c_fc.bias`, [spec.intermediateSize], [dI], b);
      add(`${p}.mlp.c_proj.weight`, [spec.intermediateSize, D], [dI, dH], b);
      add(`${p}.mlp.c_proj.bias`, [D], [dH], b);
    }
    add('transformer.ln_f.weight', [D], [dH]);
    add('transformer.ln_f.bias', [D], [dH]);
  } else {
    const q = spec.numHeads * spec.headDim;
    const kv = spec.numKvHeads * spec.headDim;
    const dQ = `${f('numHeads', spec.numHeads)} × ${f('headDim', spec.headDim)}`;
    const dKV = `${f('numKvHeads', spec.numKvHeads)} × ${f('headDim', spec.headDim)}`;
    add('model.embed_tokens.weight', [spec.vocabSize, D], [dV, dH]);
    for (let i = 0; i < spec.numLayers; i++) {
      const p = `model.layers.${i}`;
      const b = { because: layers };
      add(`${p}.self_attn.q_proj.weight`, [q, D], [dQ, dH], b);
      add(`${p}.self_attn.k_proj.weight`, [kv, D], [dKV, dH], b);
      add(`${p}.self_attn.v_proj.weight`, [kv, D], [dKV, dH], b);
      add(`${p}.self_attn.o_proj.weight`, [D, q], [dH, dQ], b);
      if (spec.qkvBias) {
        const why = { because: spec.arch === 'qwen2' ? 'model_type=qwen2' : f('qkvBias', true) };
        add(`${p}.self_attn.q_proj.bias`, [q], [dQ], why);
        add(`${p}.self_attn.k_proj.bias`, [kv], [dKV], why);
        add(`${p}.self_attn.v_proj.bias`, [kv], [dKV], why);
      }
      if (spec.oBias) add(`${p}.self_attn.o_proj.bias`, [D], [dH], { because: f('oBias', true) });
      if (spec.qkNorm) {
        add(`${p}.self_attn.q_norm.weight`, [spec.headDim], [f('headDim', spec.headDim)], {
          because: `model_type=${spec.arch}`,
        });
        add(`${p}.self_attn.k_norm.weight`, [spec.headDim], [f('headDim', spec.headDim)], {
          because: `model_type=${spec.arch}`,
        });
      }
      add(`${p}.mlp.gate_proj.weight`, [spec.intermediateSize, D], [dI, dH], b);
      add(`${p}.mlp.up_proj.weight`, [spec.intermediateSize, D], [dI, dH], b);
      add(`${p}.mlp.down_proj.weight`, [D, spec.intermediateSize], [dH, dI], b);
      if (spec.mlpBias) {
        const why = { because: f('mlpBias', true) };
        add(`${p}.mlp.gate_proj.bias`, [spec.intermediateSize], [dI], why);
        add(`${p}.mlp.up_proj.bias`, [spec.intermediateSize], [dI], why);
        add(`${p}.mlp.down_proj.bias`, [D], [dH], why);
      }
      add(`${p}.input_layernorm.weight`, [D], [dH], b);
      add(`${p}.post_attention_layernorm.weight`, [D], [dH], b);
    }
    add('model.norm.weight', [D], [dH]);
  }
  // Tied checkpoints usually omit lm_head; when one is stored anyway it must still fit.
  add(
    'lm_head.weight',
    [spec.vocabSize, D],
    [dV, dH],
    spec.tieEmbeddings
      ? { optional: true }
      : { because: `${configFieldName(spec.arch, 'tieEmbeddings')}=false` },
  );
  return out;
}

const fmtShape = (s: number[]) => `[${s.join(',')}]`;

/**
 * Checks that every expected tensor exists with the expected shape and that no tensors exist for
 * layers beyond num_hidden_layers. Throws FormatError 'config-weight-mismatch' naming the weights
 * file, the tensor and the config.json field responsible.
 */
export function validateWeights(spec: ModelSpec): void {
  const w = spec.weights;
  const mismatch = (msg: string) => new FormatError('config-weight-mismatch', msg);
  for (const e of expectedWeights(spec)) {
    const got = w.tryGet(e.name);
    if (!got) {
      if (e.optional) continue;
      throw mismatch(
        `${w.source}: tensor ${e.name} is missing but config.json ${e.because ?? (e.dims ?? []).join(', ')} requires it`,
      );
    }
    const actual = got.info.shape;
    const same = actual.length === e.shape.length && actual.every((d, i) => d === e.shape[i]);
    if (same) continue;
    // Name the field behind the first dimension that differs (or all of them if the rank differs).
    let field = (e.dims ?? []).join(', ');
    if (actual.length === e.shape.length) {
      const i = actual.findIndex((d, k) => d !== e.shape[k]);
      field = e.dims?.[i] ?? field;
    }
    throw mismatch(
      `${basename(got.file)}: ${e.name} has shape ${fmtShape(actual)} but config.json ${field} implies ${fmtShape(e.shape)}`,
    );
  }
  // Extra layers mean num_hidden_layers is too small (the model would silently drop blocks).
  const layerRe = spec.arch === 'gpt2' ? /^transformer\.h\.(\d+)\./ : /^model\.layers\.(\d+)\./;
  for (const name of w.names()) {
    const m = layerRe.exec(name);
    if (m && Number(m[1]) >= spec.numLayers) {
      throw mismatch(
        `${w.fileOf(name)}: ${name} belongs to layer ${m[1]} but config.json ${configFieldName(spec.arch, 'numLayers')}=${spec.numLayers}`,
      );
    }
  }
}
