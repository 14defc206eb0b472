// Weight index: where each tensor of a Hugging Face checkpoint lives (file + byte range), for a
// single `model.safetensors` or shards listed in `model.safetensors.index.json`. Only headers are
// read; the graph builders point ONNX external data straight at these byte ranges.
//
// Also the check that the weights on disk match config.json (the expected names and shapes come
// from arch.ts), so a wrong config fails at load time with a message naming the file, the tensor
// and the config field, not deep inside ONNX Runtime.
//
// Leaves out: pytorch_model.bin (torch pickles are handled by formats/torch-save), GGUF, quantized
// checkpoints.

import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FormatError } from '../errors.ts';
import { FILE_LIMITS, readJsonObject } from '../formats/json-file.ts';
import {
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type TensorInfo,
} from '../formats/safetensors.ts';
import { plural } from '../plural.ts';
import {
  type Arch,
  configFieldName,
  expectedLayerWeights,
  expectedWeights,
  layerTensorPattern,
  type ModelDims,
} from './arch.ts';

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
 * Checkpoints of the base model alone name its tensors without the causal LM's prefix: GPT-2's
 * original OpenAI conversion (`wte.weight`, `h.0.…`, no `transformer.`), a LlamaModel-style save
 * (`embed_tokens.weight`, `layers.0.…`, no `model.`). transformers adds the prefix when it loads
 * them into the causal LM; so do we, giving them their canonical names.
 */
function baseModelAliases(names: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  const list = [...names];
  const layouts = [
    ['transformer.', 'wte.weight', /^(wte|wpe|ln_f|h\.\d+)\./],
    ['model.', 'embed_tokens.weight', /^(embed_tokens|norm|layers\.\d+)\./],
  ] as const;
  for (const [prefix, embedding, base] of layouts) {
    if (!list.includes(embedding) || list.some((n) => n.startsWith(prefix))) continue;
    for (const n of list) if (base.test(n)) out.set(n, `${prefix}${n}`);
  }
  return out;
}

/**
 * Refuses a weights file that is a symlink to nothing — in a Hugging Face cache snapshot, a blob
 * that an interrupted download never finished or a cache cleanup deleted — instead of calling it
 * "not found" while it is listed in the folder.
 */
function checkNotDangling(dir: string, name: string): void {
  const p = join(dir, name);
  let dangling = false;
  try {
    dangling = lstatSync(p).isSymbolicLink() && !existsSync(p);
  } catch {}
  if (dangling)
    throw new FormatError(
      'missing-file',
      `${name}: the link in ${dir} points at a file that is gone (${readlinkSync(p).slice(0, 200)}): an interrupted or cleaned-up download; download the model again`,
    );
}

function realFile(dir: string, name: string, referrer: string): string {
  const p = join(dir, name);
  checkNotDangling(dir, name);
  if (!existsSync(p))
    throw new FormatError(
      'missing-file',
      `${name}: not found in ${dir}${referrer ? ` (listed in ${referrer})` : ''}`,
    );
  return realpathSync(p);
}

/**
 * The weight_map of a parsed model.safetensors.index.json (tensor → shard file) and the shard files
 * it names, sorted; each must be a plain file name in the model folder (no traversal out of it).
 * `label` names the index in messages. The Hub download reads it too, to fetch exactly those shards.
 */
export function readShardIndex(
  json: Record<string, unknown>,
  label: string,
): { weightMap: Record<string, unknown>; shards: string[] } {
  const wm = Object.hasOwn(json, 'weight_map') ? json.weight_map : undefined;
  if (!wm || typeof wm !== 'object' || Array.isArray(wm))
    throw new FormatError('bad-json', `${label}: no weight_map object`);
  const weightMap = wm as Record<string, unknown>;
  const shards = [...new Set(Object.values(weightMap))];
  for (const s of shards) {
    if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s === '..' || s === '.' || s === '') {
      throw new FormatError(
        'bad-json',
        `${label}: weight_map value ${JSON.stringify(s)?.slice(0, 80)} is not a file name in the folder`,
      );
    }
  }
  return { weightMap, shards: (shards as string[]).sort() };
}

/** Opens the weights of a model folder: model.safetensors, or the shards of an index. */
export function openWeightIndex(dir: string): WeightIndex {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  checkNotDangling(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const json = readJsonObject(indexPath, 'model.safetensors.index.json', FILE_LIMITS.index);
    const { weightMap, shards: sorted } = readShardIndex(json, 'model.safetensors.index.json');
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
    return new WeightIndex(
      dir,
      'model.safetensors.index.json',
      headers,
      baseModelAliases(Object.keys(weightMap)),
    );
  }
  checkNotDangling(dir, 'model.safetensors');
  if (existsSync(single)) {
    const header = readSafetensorsHeader(realpathSync(single));
    return new WeightIndex(dir, 'model.safetensors', [header], baseModelAliases(header.tensors.keys()));
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

const fmtShape = (s: number[]) => `[${s.join(',')}]`;

/** The storage types a model's weights may have: the graphs read them, quantize/store.ts converts them. */
export const FLOAT_WEIGHTS = new Set<SafetensorsDtype>(['F32', 'F16', 'BF16']);

/**
 * The refusal for a checkpoint whose base model sits under another prefix than the causal LM's
 * (a multimodal model's `language_model.model.`), when missing tensor `name` is stored that way;
 * otherwise null. Said instead of "missing", which would send the user to config.json.
 */
function underOtherPrefix(w: WeightIndex, name: string): FormatError | null {
  const base = /^(transformer|model)\./.exec(name)?.[0];
  if (!base) return null;
  const tail = name.slice(base.length);
  const stored = w.names().find((n) => n.endsWith(`.${tail}`));
  if (!stored) return null;
  const prefix = stored.slice(0, -tail.length);
  return new FormatError(
    'config-weight-mismatch',
    `${w.fileOf(stored)}: tensor ${name} is stored as ${stored}: the model sits under "${prefix}" instead of "${base}" (a multimodal model's language part), which the studio does not read; use a checkpoint of the text model alone`,
  );
}

/**
 * Checks that every expected tensor exists with the expected shape and that no tensors exist for
 * layers beyond num_hidden_layers. Throws FormatError 'config-weight-mismatch' naming the weights
 * file, the tensor and the config.json field responsible.
 */
export function validateWeights(spec: ModelDims & { weights: WeightIndex }): void {
  const w = spec.weights;
  const mismatch = (msg: string) => new FormatError('config-weight-mismatch', msg);
  for (const e of expectedWeights(spec)) {
    const got = w.tryGet(e.name);
    if (!got) {
      if (e.optional) continue;
      throw (
        underOtherPrefix(w, e.name) ??
        mismatch(
          `${w.source}: tensor ${e.name} is missing but config.json ${e.because ?? (e.dims ?? []).join(', ')} requires it`,
        )
      );
    }
    // Integer tensors (a GPTQ/AWQ export's, or a broken conversion) would load and then fail at the
    // first run: refuse them with the folder, as shapes are.
    if (!FLOAT_WEIGHTS.has(got.info.dtype))
      throw new FormatError(
        'unsupported-dtype',
        `${basename(got.file)}: ${e.name} is stored as ${got.info.dtype}; the studio reads float32, float16 and bfloat16 weights`,
      );
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
  const layerRe = layerTensorPattern(spec.arch);
  for (const name of w.names()) {
    const m = layerRe.exec(name);
    if (m && Number(m[1]) >= spec.numLayers) {
      throw mismatch(
        `${w.fileOf(name)}: ${name} belongs to layer ${m[1]} but config.json ${configFieldName(spec.arch, 'numLayers')}=${spec.numLayers}`,
      );
    }
  }
}

/**
 * Checks config.json's layer count against the layers the weights hold, before anything is sized
 * by it: a config claiming more layers than stored is refused naming the first missing tensor
 * (and the count stored), without building the list of every layer's tensors.
 */
export function checkLayerCount(arch: Arch, numLayers: number, weights: WeightIndex): void {
  const re = layerTensorPattern(arch);
  let stored = 0;
  for (const name of weights.names()) {
    const m = re.exec(name);
    if (m) stored = Math.max(stored, Number(m[1]) + 1);
  }
  if (numLayers <= stored) return;
  // The first tensor of layer `stored`, named as validateWeights would have named it.
  const dims: ModelDims = {
    arch,
    numLayers,
    hiddenSize: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: 1,
    intermediateSize: 1,
    vocabSize: 1,
    maxPositions: 1,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieEmbeddings: true,
  };
  const first = expectedLayerWeights(dims, stored)[0].name;
  throw (
    underOtherPrefix(weights, first) ??
    new FormatError(
      'config-weight-mismatch',
      `${weights.source}: tensor ${first} is missing but config.json ${configFieldName(arch, 'numLayers')}=${numLayers} requires it (the weights hold ${plural(stored, 'layer')})`,
    )
  );
}
