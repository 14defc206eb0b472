// Model configuration: turns a Hugging Face model folder (config.json, generation_config.json,
// safetensors weights) into one normalized ModelSpec that the graph builders read instead of the
// many spellings transformers has used over the years (rope_parameters vs rope_theta/rope_scaling,
// torch_dtype vs dtype, n_embd vs hidden_size, eos as a number or a list).
//
// Reads only JSON and safetensors headers: no weight bytes, so loading a 70B folder is instant.
// Leaves out: tokenizer files (tokenizer/), model-specific quirks that do not change the graph
// (dropout, use_cache).

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FormatError, UnsupportedError } from '../errors.ts';
import { FILE_LIMITS, parseJsonText, readFileCapped, readJsonObject } from '../formats/json-file.ts';
import type { BaseWeights } from '../quantize/scheme.ts';
import {
  type Arch,
  archOf,
  biasesOf,
  CAUSAL_LM_CLASS,
  DEFAULT_MAX_POSITIONS,
  type DimField,
  expectedWeights,
  FAMILY_NAME,
  type ModelDims,
  SUPPORTED_ARCHS,
  SUPPORTED_FAMILIES,
  tiesEmbeddingsByDefault,
} from './arch.ts';
import { Fields, CONFIG_LIMITS as LIM } from './config-fields.ts';
import { checkLayerCount, openWeightIndex, validateWeights, type WeightIndex } from './weights.ts';

export type { Arch };

export interface RopeSpec {
  theta: number;
  scaling:
    | null
    | { type: 'linear'; factor: number }
    | {
        type: 'llama3';
        factor: number;
        lowFreqFactor: number;
        highFreqFactor: number;
        originalMaxPositions: number;
      }
    | {
        /**
         * Phi-3 128k / Phi-3.5: per-frequency divisors, short_factor while a pass's positions stay
         * within originalMaxPositions, long_factor once one goes beyond it (transformers decides per
         * forward call from max(position_ids) + 1); cos and sin scaled by attentionFactor.
         */
        type: 'longrope';
        shortFactor: number[];
        longFactor: number[];
        originalMaxPositions: number;
        attentionFactor: number;
      };
}

export interface GenerationDefaults {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  doSample?: boolean;
}

/** A model as the graph builders see it; the dimensions (ModelDims) are declared in arch.ts. */
export interface ModelSpec extends ModelDims {
  dir: string;
  modelType: string;
  architectures: string[];
  norm: { kind: 'rms' | 'layer'; eps: number; weightOffset: 0 | 1 /* gemma: weight + 1 */ };
  act: 'silu' | 'gelu_tanh' | 'gelu';
  rope: RopeSpec | null; // null for gpt2 (learned positions)
  /**
   * Sliding-window attention: a query sees itself and the size − 1 keys before it (transformers'
   * kv_idx > q_idx − sliding_window), in the layers marked true. Mistral and Phi-3: every layer; Qwen2/Qwen3
   * only with use_sliding_window, in layers from max_window_layers on (or as layer_types says).
   */
  slidingWindow: { size: number; layers: boolean[] } | null;
  embedScale: number /* gemma sqrt(hidden), else 1 */;
  dtype: 'float32' | 'float16' | 'bfloat16'; // from torch_dtype or dtype
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  generation: GenerationDefaults;
  weights: WeightIndex;
  /** sha256 over config.json bytes + the safetensors headers (no weight bytes read). */
  fingerprint: string;
  /** Total parameter count from the weight shapes (a tied lm_head counted once). */
  params: number;
  /** Set when `weights` is a converted base store (quantize/base.ts): the form the graphs read. */
  base?: BaseWeights;
  /**
   * The dtype the graphs compute in (default float32). float16/bfloat16: weights stored in it stay
   * in it on the device, activations too, with norm statistics, softmax, the loss and interventions in
   * float32 (models/decoder.ts). Graph inputs and outputs stay float32 either way.
   */
  compute?: 'float32' | 'float16' | 'bfloat16';
  /**
   * `compute` was chosen by `--dtype auto` for a GPU (runtime/precision.ts): a session whose provider
   * falls back to the CPU, which lacks half kernels, is built again in float32 instead of failing.
   */
  computeAuto?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Architecture detection

function detectArch(cfg: Fields): { arch: Arch; modelType: string; architectures: string[] } {
  const modelType = cfg.str('model_type');
  const rawArchs = cfg.get('architectures');
  const architectures = Array.isArray(rawArchs)
    ? rawArchs.filter((a): a is string => typeof a === 'string').slice(0, 8)
    : [];
  let arch: Arch | undefined;
  if (modelType !== undefined) {
    arch = archOf(modelType);
    // The class first where the file names one (what people search for), then the model_type.
    const type = `model_type "${modelType.slice(0, 80)}"`;
    if (!arch)
      throw new UnsupportedError(
        'unsupported-architecture',
        `${cfg.file}: ${architectures.length ? `${architectures.join(', ')} (${type})` : type} is not supported (${SUPPORTED_FAMILIES})`,
      );
  } else {
    // Very old configs have no model_type; fall back to the class name.
    arch = SUPPORTED_ARCHS.find((a) => architectures.includes(CAUSAL_LM_CLASS[a]));
    if (!arch)
      throw new UnsupportedError(
        'unsupported-architecture',
        `${cfg.file}: ${architectures.length ? architectures.join(', ') : 'no model_type and no architectures'} is not supported (${SUPPORTED_FAMILIES})`,
      );
  }
  // A classification or base-model checkpoint of a known family has no LM head we can use.
  if (architectures.length > 0 && !architectures.includes(CAUSAL_LM_CLASS[arch])) {
    throw new UnsupportedError(
      'unsupported-architecture',
      `${cfg.file}: ${architectures.join(', ')} is not supported (${FAMILY_NAME[arch]} runs as ${CAUSAL_LM_CLASS[arch]})`,
    );
  }
  return { arch, modelType: modelType ?? arch, architectures };
}

// ---------------------------------------------------------------------------------------------
// Quantized checkpoints (GPTQ, AWQ, bitsandbytes, FP8, ...) keep their layers as packed integers
// under other tensor names (q_proj.qweight, .scales, .SCB): read as float weights they would fail
// on a missing tensor or compute garbage. transformers marks them with quantization_config.

/**
 * Refuses a config.json that declares a quantized checkpoint, naming its method and what to use
 * instead. `label` names the file (or the repository) in the message; the Hub download asks it too,
 * through checkConfigFeatures.
 */
function checkNotQuantized(config: Record<string, unknown>, label: string): void {
  const q = Object.hasOwn(config, 'quantization_config') ? config.quantization_config : undefined;
  if (q === undefined || q === null) return;
  const method =
    typeof q === 'object' &&
    !Array.isArray(q) &&
    typeof (q as Record<string, unknown>).quant_method === 'string'
      ? String((q as Record<string, unknown>).quant_method).slice(0, 40)
      : null;
  throw new UnsupportedError(
    'quantized-checkpoint',
    `${label}: a quantized checkpoint (quantization_config${method ? ` ${JSON.stringify(method)}` : ''}); the studio reads float32, float16 or bfloat16 weights: use the original model (runs can quantize it themselves with --quantize int8|int4)`,
  );
}

/**
 * The refusals config.json decides alone — a quantized checkpoint, a rope the graphs do not build,
 * GPT-2's other attention scalings — for a Hub repository before its weights are fetched
 * (fetch-model.ts, which checks model_type itself). `label` names the repository in the message.
 */
export function checkConfigFeatures(config: Record<string, unknown>, label: string): void {
  checkNotQuantized(config, label);
  const cfg = new Fields(config, label);
  if (config.model_type === 'gpt2') checkGpt2Attention(cfg);
  else parseRope(cfg);
}

// ---------------------------------------------------------------------------------------------
// Rotary embeddings: transformers 5 writes rope_parameters {rope_theta, rope_type, factor, ...};
// older checkpoints write rope_theta at the top level and rope_scaling {type|rope_type, factor, ...}.

const DEFAULT_THETA = 10000;

/**
 * `headDim` and `maxPositions` are needed by longrope only (its factor lists are headDim/2 long, its
 * attention factor comes from maxPositions / original_max_position_embeddings); the Hub's config-only
 * check, which has no dimensions yet, reads them from the config itself.
 */
function parseRope(cfg: Fields, dims?: { headDim: number; maxPositions: number }): RopeSpec {
  const params = cfg.object('rope_parameters');
  const useNew = params !== null;
  const where = useNew ? 'rope_parameters' : 'rope_scaling';
  const scalingObj = useNew ? params.obj : cfg.get('rope_scaling');
  const s =
    scalingObj && typeof scalingObj === 'object' && !Array.isArray(scalingObj)
      ? new Fields(scalingObj as Record<string, unknown>, `${cfg.file} ${where}`)
      : null;

  const theta =
    useNew && s?.has('rope_theta')
      ? s.num('rope_theta', DEFAULT_THETA)
      : cfg.num('rope_theta', DEFAULT_THETA);
  let type = s ? (s.str('rope_type') ?? s.str('type') ?? 'default') : 'default';
  // Phi3Config renames the types early Phi-3 128k checkpoints wrote ("su", "yarn") to longrope.
  if (cfg.str('model_type') === 'phi3' && (type === 'su' || type === 'yarn')) type = 'longrope';
  let scaling: RopeSpec['scaling'];
  switch (type) {
    case 'default':
      scaling = null;
      break;
    case 'linear': {
      scaling = { type: 'linear', factor: (s as Fields).num('factor', 1) };
      break;
    }
    case 'llama3': {
      const ctx = (s as Fields).optInt(LIM.positions, 'original_max_position_embeddings');
      if (ctx === undefined)
        throw new FormatError(
          'missing-field',
          `${cfg.file}: ${where}.original_max_position_embeddings is missing (required for rope_type llama3)`,
        );
      scaling = {
        type: 'llama3',
        factor: (s as Fields).num('factor', 8),
        lowFreqFactor: (s as Fields).num('low_freq_factor', 1),
        highFreqFactor: (s as Fields).num('high_freq_factor', 4),
        originalMaxPositions: ctx,
      };
      break;
    }
    case 'longrope':
      scaling = parseLongrope(cfg, s as Fields, where, dims);
      break;
    default:
      throw new UnsupportedError(
        'unsupported-rope',
        `${cfg.file}: ${where}.rope_type "${type.slice(0, 80)}" is not supported (supported: default, linear, llama3, longrope)`,
      );
  }
  // The graphs rotate every dimension of a head (as the supported families' attention does).
  const partial = s?.optNum('partial_rotary_factor') ?? cfg.optNum('partial_rotary_factor');
  if (partial !== undefined && partial !== 1)
    throw new UnsupportedError(
      'unsupported-rope',
      `${cfg.file}: partial_rotary_factor ${partial} is not supported (a rotary embedding over part of each attention head)`,
    );
  return { theta, scaling };
}

/**
 * LongRoPE as transformers' _compute_longrope_parameters reads it: original_max_position_embeddings
 * from the rope fields or the top level (Phi-3 keeps it there), else max_position_embeddings; the
 * attention factor as given, else sqrt(1 + ln(factor) / ln(original)) with factor as given, else
 * max_position_embeddings / original (1 when that is ≤ 1).
 */
function parseLongrope(
  cfg: Fields,
  s: Fields,
  where: string,
  dims: { headDim: number; maxPositions: number } | undefined,
): RopeSpec['scaling'] {
  const hidden = cfg.optInt(LIM.hiddenSize, 'hidden_size');
  const heads = cfg.optInt(LIM.numHeads, 'num_attention_heads');
  const headDim =
    dims?.headDim ?? cfg.optInt(LIM.headDim, 'head_dim') ?? (hidden && heads ? hidden / heads : undefined);
  const maxPositions = dims?.maxPositions ?? cfg.optInt(LIM.positions, 'max_position_embeddings');
  const original =
    s.optInt(LIM.positions, 'original_max_position_embeddings') ??
    cfg.optInt(LIM.positions, 'original_max_position_embeddings') ??
    maxPositions;
  if (original === undefined)
    throw new FormatError(
      'missing-field',
      `${cfg.file}: original_max_position_embeddings is missing (required for rope_type longrope)`,
    );
  const factors = (name: string): number[] => {
    const v = s.get(name);
    const ok =
      Array.isArray(v) &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0) &&
      (headDim === undefined || v.length === headDim / 2);
    if (!ok)
      throw new FormatError(
        'bad-field',
        `${cfg.file}: ${where}.${name} must list ${headDim === undefined ? 'a' : headDim / 2} positive number${headDim === 2 ? '' : 's'} (one per rotary frequency) for rope_type longrope`,
      );
    return v as number[];
  };
  const shortFactor = factors('short_factor');
  const longFactor = factors('long_factor');
  const factor = s.optNum('factor') ?? (maxPositions === undefined ? 1 : maxPositions / original);
  const attentionFactor =
    s.optNum('attention_factor') ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
  return { type: 'longrope', shortFactor, longFactor, originalMaxPositions: original, attentionFactor };
}

/**
 * GPT-2 variants whose attention scores are scaled otherwise than by 1/sqrt(head size): the graphs
 * build plain GPT-2 attention, so these are refused rather than computed wrong.
 * reorder_and_upcast_attn only changes the precision of the same product, and is accepted.
 */
function checkGpt2Attention(cfg: Fields): void {
  const problem = cfg.bool('scale_attn_by_inverse_layer_idx', false)
    ? 'scale_attn_by_inverse_layer_idx true (attention scores divided by the layer number)'
    : !cfg.bool('scale_attn_weights', true)
      ? 'scale_attn_weights false (attention scores not divided by the square root of the head size)'
      : null;
  if (problem)
    throw new UnsupportedError('unsupported-attention', `${cfg.file}: ${problem} is not supported`);
}

// ---------------------------------------------------------------------------------------------

function parseAct(arch: Arch, cfg: Fields): ModelSpec['act'] {
  // Gemma: transformers ignores hidden_act and uses hidden_activation, defaulting to the tanh
  // approximation (the original release wrote hidden_act "gelu" by mistake).
  const name =
    arch === 'gpt2'
      ? (cfg.str('activation_function') ?? 'gelu_new')
      : arch === 'gemma'
        ? (cfg.str('hidden_activation') ?? 'gelu_pytorch_tanh')
        : (cfg.str('hidden_act') ?? 'silu');
  const field =
    arch === 'gpt2' ? 'activation_function' : arch === 'gemma' ? 'hidden_activation' : 'hidden_act';
  switch (name) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'gelu_pytorch_tanh':
    case 'gelu_new':
    case 'gelu_fast':
    case 'gelu_python_tanh':
      return 'gelu_tanh';
    case 'gelu':
      return 'gelu';
    default:
      throw new UnsupportedError(
        'unsupported-activation',
        `${cfg.file}: ${field} "${name.slice(0, 80)}" is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new)`,
      );
  }
}

function parseDtype(cfg: Fields, weights: WeightIndex): ModelSpec['dtype'] {
  const raw = cfg.str('torch_dtype') ?? cfg.str('dtype');
  if (raw !== undefined && raw !== 'auto') {
    const name = raw.replace(/^torch\./, '');
    const map: Record<string, ModelSpec['dtype']> = {
      float32: 'float32',
      float: 'float32',
      fp32: 'float32',
      float16: 'float16',
      half: 'float16',
      fp16: 'float16',
      bfloat16: 'bfloat16',
      bf16: 'bfloat16',
    };
    const d = Object.hasOwn(map, name) ? map[name] : undefined;
    if (!d)
      throw new UnsupportedError(
        'unsupported-dtype',
        `${cfg.file}: ${cfg.has('torch_dtype') ? 'torch_dtype' : 'dtype'} "${raw.slice(0, 80)}" is not supported (float32, float16, bfloat16)`,
      );
    return d;
  }
  // No dtype in the config: use the storage type of the embedding matrix, the largest tensor.
  const counts = new Map<string, number>();
  for (const n of weights.names()) {
    const { info } = weights.get(n);
    const size = info.shape.reduce((a, b) => a * b, 1);
    counts.set(info.dtype, (counts.get(info.dtype) ?? 0) + size);
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return top === 'BF16' ? 'bfloat16' : top === 'F16' ? 'float16' : 'float32';
}

function parseGeneration(gen: Fields | null): GenerationDefaults {
  if (!gen) return {};
  const out: GenerationDefaults = {};
  const mnt = gen.optInt(LIM.tokens, 'max_new_tokens');
  if (mnt !== undefined) out.maxNewTokens = mnt;
  const t = gen.optNum('temperature');
  if (t !== undefined) out.temperature = t;
  const p = gen.optNum('top_p');
  if (p !== undefined) out.topP = p;
  // top_k 0 means "disabled" in transformers; keep it as given, sampling treats <= 0 as off.
  if (gen.has('top_k')) out.topK = gen.num('top_k', 0);
  const rp = gen.optNum('repetition_penalty');
  if (rp !== undefined) out.repetitionPenalty = rp;
  if (gen.has('do_sample')) out.doSample = gen.bool('do_sample', false);
  return out;
}

// ---------------------------------------------------------------------------------------------

/** The dimensions config.json gives, each bounded (CONFIG_LIMITS) and consistent with the others. */
function readDims(
  arch: Arch,
  cfg: Fields,
): Omit<ModelDims, 'qkvBias' | 'oBias' | 'mlpBias' | 'qkNorm' | 'tieEmbeddings'> {
  let hiddenSize: number, numLayers: number, numHeads: number, numKvHeads: number, headDim: number;
  let intermediateSize: number, vocabSize: number, maxPositions: number;
  const absent: Partial<Record<DimField, string>> = {};
  /** config.json's value of an optional field, or `fallback` (recorded as absent, with its source). */
  const orDefault = (
    field: DimField,
    value: number | null | undefined,
    fallback: number,
    from: string,
  ): number => {
    if (value != null) return value;
    absent[field] = from;
    return fallback;
  };
  if (arch === 'gpt2') {
    // GPT2Config.attribute_map maps hidden_size → n_embd etc.; accept either spelling.
    hiddenSize = cfg.int(LIM.hiddenSize, 'n_embd', 'hidden_size');
    numLayers = cfg.int(LIM.numLayers, 'n_layer', 'num_hidden_layers');
    numHeads = cfg.int(LIM.numHeads, 'n_head', 'num_attention_heads');
    numKvHeads = numHeads;
    headDim = hiddenSize / numHeads;
    intermediateSize = orDefault(
      'intermediateSize',
      cfg.optInt(LIM.intermediateSize, 'n_inner'),
      4 * hiddenSize,
      '4 × n_embd',
    );
    vocabSize = cfg.int(LIM.vocabSize, 'vocab_size');
    maxPositions = cfg.int(LIM.positions, 'n_positions', 'max_position_embeddings');
  } else {
    hiddenSize = cfg.int(LIM.hiddenSize, 'hidden_size');
    numLayers = cfg.int(LIM.numLayers, 'num_hidden_layers');
    numHeads = cfg.int(LIM.numHeads, 'num_attention_heads');
    numKvHeads = orDefault(
      'numKvHeads',
      cfg.optInt(LIM.numHeads, 'num_key_value_heads'),
      numHeads,
      'the number of attention heads',
    );
    // head_dim may be absent or null (older llama/mistral): transformers then uses hidden/heads.
    headDim = orDefault(
      'headDim',
      cfg.optInt(LIM.headDim, 'head_dim'),
      hiddenSize / numHeads,
      'hidden_size / num_attention_heads',
    );
    intermediateSize = cfg.int(LIM.intermediateSize, 'intermediate_size');
    vocabSize = cfg.int(LIM.vocabSize, 'vocab_size');
    maxPositions = orDefault(
      'maxPositions',
      cfg.optInt(LIM.positions, 'max_position_embeddings'),
      DEFAULT_MAX_POSITIONS[arch],
      `transformers' default for ${arch}`,
    );
  }
  if (!Number.isInteger(headDim)) {
    throw new FormatError(
      'bad-field',
      `config.json: ${arch === 'gpt2' ? 'n_embd' : 'hidden_size'}=${hiddenSize} is not divisible by ${arch === 'gpt2' ? 'n_head' : 'num_attention_heads'}=${numHeads} and no head_dim is given`,
    );
  }
  if (numHeads % numKvHeads !== 0) {
    throw new FormatError(
      'bad-field',
      `config.json: num_attention_heads=${numHeads} is not a multiple of num_key_value_heads=${numKvHeads}`,
    );
  }
  return {
    arch,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    maxPositions,
    ...(Object.keys(absent).length ? { absent } : {}),
  };
}

/** Reads a Hugging Face model folder into a normalized ModelSpec and validates weights against it. */
/**
 * `dir` as an absolute path, refused unless it is a folder. Every --model DIR and the library's model
 * add say it in these words: a missing path as such, a file (config.json itself, often) as a file.
 */
export function requireModelFolder(dir: string): string {
  const path = resolve(dir);
  if (!existsSync(path)) throw new FormatError('missing-file', `${path}: no such folder`);
  if (!statSync(path).isDirectory())
    throw new FormatError(
      'not-a-folder',
      `${path} is a file; give the model's folder (the one holding config.json and the safetensors files)`,
    );
  return path;
}

export function loadModelSpec(dir: string): ModelSpec {
  return loadModelSpecWithConfig(dir).spec;
}

/**
 * loadModelSpec plus config.json as it parsed it (the library stores it): one capped read serves
 * both, so what is stored is what was checked and fingerprinted.
 */
export function loadModelSpecWithConfig(dir: string): { spec: ModelSpec; config: Record<string, unknown> } {
  const root = requireModelFolder(dir);
  const configPath = join(root, 'config.json');
  if (!existsSync(configPath))
    throw new FormatError(
      'missing-file',
      `config.json: not found in ${root} (not a Hugging Face model folder)`,
    );
  // One capped read serves both the parse and the fingerprint. A file it cannot read is named by its
  // path: beside a pyreft adapter (a config.json of its own) "config.json" alone says not whose.
  const configBytes = readFileCapped(configPath, FILE_LIMITS.config, configPath);
  const config = parseConfigObject(configBytes, configPath);
  const cfg = new Fields(config, 'config.json');
  const genPath = join(root, 'generation_config.json');
  const gen = existsSync(genPath)
    ? new Fields(
        readJsonObject(genPath, 'generation_config.json', FILE_LIMITS.config),
        'generation_config.json',
      )
    : null;

  const { arch, modelType, architectures } = detectArch(cfg);
  checkNotQuantized(config, 'config.json');
  if (arch === 'gpt2') checkGpt2Attention(cfg);
  const dims = readDims(arch, cfg);
  const weights = openWeightIndex(root);
  // Before anything is sized by num_hidden_layers (the expected-weights list, sliding-window
  // layers), it must agree with the layers the weights actually hold.
  checkLayerCount(arch, dims.numLayers, weights);

  const bias = biasesOf(arch, cfg.bool('attention_bias', false), cfg.bool('mlp_bias', false));

  const bosTokenId = gen?.has('bos_token_id') ? gen.tokenId('bos_token_id') : cfg.tokenId('bos_token_id');
  // generate() uses generation_config's eos ids when present (it often lists several end tokens).
  const eosTokenIds =
    (gen?.has('eos_token_id') ? gen.tokenIds('eos_token_id') : null) ?? cfg.tokenIds('eos_token_id') ?? [];
  const padTokenId = gen?.has('pad_token_id') ? gen.tokenId('pad_token_id') : cfg.tokenId('pad_token_id');

  const spec: ModelSpec = {
    dir: root,
    modelType,
    architectures,
    ...dims,
    norm:
      arch === 'gpt2'
        ? { kind: 'layer', eps: cfg.num('layer_norm_epsilon', 1e-5), weightOffset: 0 }
        : {
            kind: 'rms',
            eps: cfg.num('rms_norm_eps', arch === 'phi3' ? 1e-5 : 1e-6),
            weightOffset: arch === 'gemma' ? 1 : 0,
          },
    act: parseAct(arch, cfg),
    rope: arch === 'gpt2' ? null : parseRope(cfg, dims),
    qkvBias: bias.qkv,
    oBias: bias.o,
    mlpBias: bias.mlp,
    qkNorm: arch === 'qwen3',
    slidingWindow: parseSlidingWindow(arch, cfg, dims.numLayers),
    tieEmbeddings: cfg.bool('tie_word_embeddings', tiesEmbeddingsByDefault(arch)),
    embedScale: arch === 'gemma' ? Math.sqrt(dims.hiddenSize) : 1,
    dtype: parseDtype(cfg, weights),
    bosTokenId,
    eosTokenIds,
    padTokenId,
    generation: parseGeneration(gen),
    weights,
    fingerprint: '',
    params: 0,
  };
  validateWeights(spec);
  spec.params = expectedWeights(spec)
    .filter((w) => !w.optional)
    .reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0);
  spec.fingerprint = fingerprintOf(configBytes, weights);
  return { spec, config };
}

function parseConfigObject(bytes: Buffer, label: string): Record<string, unknown> {
  const v = parseJsonText(bytes.toString('utf8'), label);
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new FormatError('bad-json', `${label}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function parseSlidingWindow(arch: Arch, cfg: Fields, numLayers: number): ModelSpec['slidingWindow'] {
  if (arch !== 'mistral' && arch !== 'phi3' && arch !== 'qwen2' && arch !== 'qwen3') return null;
  const size = cfg.optInt(LIM.positions, 'sliding_window');
  if (size === undefined) return null;
  // Phi-3's attention is Mistral's: the window in every layer.
  if (arch === 'mistral' || arch === 'phi3') return { size, layers: Array(numLayers).fill(true) };
  // Qwen: transformers sets sliding_window to None unless use_sliding_window is true.
  if (!cfg.bool('use_sliding_window', false)) return null;
  let layers: boolean[];
  const types = cfg.get('layer_types');
  if (types !== undefined && types !== null) {
    if (
      !Array.isArray(types) ||
      types.length !== numLayers ||
      types.some((t) => t !== 'sliding_attention' && t !== 'full_attention')
    )
      throw new FormatError(
        'bad-field',
        `config.json: layer_types must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers`,
      );
    layers = types.map((t) => t === 'sliding_attention');
  } else {
    const from = cfg.optInt(LIM.numLayers, 'max_window_layers') ?? 0;
    layers = Array.from({ length: numLayers }, (_, i) => i >= from);
  }
  return layers.some(Boolean) ? { size, layers } : null;
}

/**
 * sha256 over config.json's bytes and a canonical form of every safetensors header (file name,
 * size, then each tensor's name, dtype, shape and byte range, sorted). Identical downloads give the
 * same value wherever they sit; any change of shape, dtype, layout or config changes it.
 */
export function fingerprintOf(configBytes: Buffer, weights: WeightIndex): string {
  const h = createHash('sha256');
  h.update('config.json\0');
  h.update(configBytes);
  for (const header of weights.headers) {
    const name = basename(header.path);
    h.update(`\0file\0${name}\0${header.fileSize}\0`);
    for (const t of [...header.tensors.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      h.update(`${t.name}\0${t.dtype}\0${t.shape.join(',')}\0${t.offset}\0${t.byteLength}\n`);
    }
  }
  return h.digest('hex');
}
