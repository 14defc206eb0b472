// Per-architecture facts, in one place: the supported families and their causal-LM classes, which
// config.json field holds each dimension, the per-class defaults transformers applies (biases, tied
// embeddings, context length), and the Hugging Face tensor names and shapes a checkpoint of a given
// size must hold. config.ts (reading config.json) and weights.ts (reading safetensors headers) both
// build on this module and on nothing of each other's, so neither imports the other.
//
// Dimension letters: D hidden size, I intermediate size, V vocabulary, P max positions,
// H / K attention / key-value heads, E head dim.
// Leaves out: reading files (config.ts, weights.ts), graph building (decoder.ts, layers.ts).

export type Arch = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma' | 'gpt2' | 'phi3';

export const SUPPORTED_ARCHS: readonly Arch[] = [
  'llama',
  'mistral',
  'qwen2',
  'qwen3',
  'gemma',
  'gpt2',
  'phi3',
];

/** The family as people name it, for messages. */
export const FAMILY_NAME: Record<Arch, string> = {
  llama: 'Llama',
  mistral: 'Mistral',
  qwen2: 'Qwen2',
  qwen3: 'Qwen3',
  gemma: 'Gemma',
  gpt2: 'GPT-2',
  phi3: 'Phi-3',
};

/** "supported: Llama, Mistral, …": the tail of every unsupported-architecture message, one short line. */
export const SUPPORTED_FAMILIES = `supported: ${SUPPORTED_ARCHS.map((a) => FAMILY_NAME[a]).join(', ')}`;

/** The causal-LM class transformers writes into `architectures` for each model_type. */
export const CAUSAL_LM_CLASS: Record<Arch, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gemma: 'GemmaForCausalLM',
  gpt2: 'GPT2LMHeadModel',
  phi3: 'Phi3ForCausalLM',
};

/** A supported model_type, looked up as an own entry (never a prototype name such as "constructor"). */
export function archOf(modelType: string): Arch | undefined {
  return Object.hasOwn(CAUSAL_LM_CLASS, modelType) ? (modelType as Arch) : undefined;
}

/** transformers' default max_position_embeddings per class, when config.json has none. */
export const DEFAULT_MAX_POSITIONS: Record<Arch, number> = {
  llama: 2048,
  mistral: 131072,
  qwen2: 32768,
  qwen3: 32768,
  gemma: 8192,
  gpt2: 1024,
  phi3: 4096,
};

/** transformers' per-class default for tie_word_embeddings. */
export function tiesEmbeddingsByDefault(arch: Arch): boolean {
  return arch === 'gemma' || arch === 'gpt2';
}

/**
 * Which linear layers carry a bias: fixed per class, except where config.json switches it
 * (attention_bias for llama/qwen3/gemma, mlp_bias for llama).
 */
export function biasesOf(
  arch: Arch,
  attentionBias: boolean,
  mlpBias: boolean,
): { qkv: boolean; o: boolean; mlp: boolean } {
  switch (arch) {
    case 'llama':
      return { qkv: attentionBias, o: attentionBias, mlp: mlpBias };
    case 'mistral':
    case 'phi3':
      return { qkv: false, o: false, mlp: false };
    case 'qwen2':
      return { qkv: true, o: false, mlp: false };
    case 'qwen3':
    case 'gemma':
      return { qkv: attentionBias, o: attentionBias, mlp: false };
    case 'gpt2':
      return { qkv: true, o: true, mlp: true };
  }
}

export type DimField =
  | 'hiddenSize'
  | 'numLayers'
  | 'numHeads'
  | 'numKvHeads'
  | 'headDim'
  | 'intermediateSize'
  | 'vocabSize'
  | 'maxPositions'
  | 'tieEmbeddings'
  | 'qkvBias'
  | 'oBias'
  | 'mlpBias';

/**
 * The config.json field behind each ModelSpec dimension, per architecture, so that error messages
 * name the field the user can actually find in their file (gpt2 says n_embd, not hidden_size).
 */
export function configFieldName(arch: Arch, field: DimField): string {
  if (arch === 'gpt2') {
    return (
      {
        hiddenSize: 'n_embd',
        numLayers: 'n_layer',
        numHeads: 'n_head',
        numKvHeads: 'n_head',
        headDim: 'n_embd/n_head',
        intermediateSize: 'n_inner',
        vocabSize: 'vocab_size',
        maxPositions: 'n_positions',
        tieEmbeddings: 'tie_word_embeddings',
        qkvBias: 'model_type',
        oBias: 'model_type',
        mlpBias: 'model_type',
      } as const
    )[field];
  }
  return (
    {
      hiddenSize: 'hidden_size',
      numLayers: 'num_hidden_layers',
      numHeads: 'num_attention_heads',
      numKvHeads: 'num_key_value_heads',
      headDim: 'head_dim',
      intermediateSize: 'intermediate_size',
      vocabSize: 'vocab_size',
      maxPositions: 'max_position_embeddings',
      tieEmbeddings: 'tie_word_embeddings',
      qkvBias: arch === 'qwen2' || arch === 'phi3' ? 'model_type' : 'attention_bias',
      oBias: arch === 'qwen2' || arch === 'mistral' || arch === 'phi3' ? 'model_type' : 'attention_bias',
      mlpBias: arch === 'llama' ? 'mlp_bias' : 'model_type',
    } as const
  )[field];
}

/** Matches a per-layer tensor name; group 1 is the layer index. */
export function layerTensorPattern(arch: Arch): RegExp {
  return arch === 'gpt2' ? /^transformer\.h\.(\d+)\./ : /^model\.layers\.(\d+)\./;
}

// ---------------------------------------------------------------------------------------------
// Expected tensors per architecture.

/** The parts of a ModelSpec that decide which tensors a checkpoint holds and their shapes. */
export interface ModelDims {
  arch: Arch;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  tieEmbeddings: boolean;
  /**
   * The dimensions config.json leaves out, each with where its value comes from instead ("the
   * number of attention heads"): a message then says the value is a default, not the file's.
   */
  absent?: Partial<Record<DimField, string>>;
}

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

/** "intermediate_size=160", or for a field config.json leaves out "head_dim (absent: 16, …)". */
const fieldOf = (spec: ModelDims) => (field: DimField, value: number | boolean) => {
  const from = spec.absent?.[field];
  const name = configFieldName(spec.arch, field);
  return from ? `${name} (absent: ${value}, ${from})` : `${name}=${value}`;
};

/** The tensors outside the layers: embeddings, final norm, lm_head. */
function globalWeights(spec: ModelDims): ExpectedWeight[] {
  const f = fieldOf(spec);
  const D = spec.hiddenSize;
  const dH = f('hiddenSize', D);
  const dV = f('vocabSize', spec.vocabSize);
  const out: ExpectedWeight[] = [];
  if (spec.arch === 'gpt2') {
    out.push({ name: 'transformer.wte.weight', shape: [spec.vocabSize, D], dims: [dV, dH] });
    out.push({
      name: 'transformer.wpe.weight',
      shape: [spec.maxPositions, D],
      dims: [f('maxPositions', spec.maxPositions), dH],
    });
    out.push({ name: 'transformer.ln_f.weight', shape: [D], dims: [dH] });
    out.push({ name: 'transformer.ln_f.bias', shape: [D], dims: [dH] });
  } else {
    out.push({ name: 'model.embed_tokens.weight', shape: [spec.vocabSize, D], dims: [dV, dH] });
    out.push({ name: 'model.norm.weight', shape: [D], dims: [dH] });
  }
  // Tied checkpoints usually omit lm_head; when one is stored anyway it must still fit.
  out.push({
    name: 'lm_head.weight',
    shape: [spec.vocabSize, D],
    dims: [dV, dH],
    ...(spec.tieEmbeddings
      ? { optional: true }
      : { because: `${configFieldName(spec.arch, 'tieEmbeddings')}=false` }),
  });
  return out;
}

/** Hugging Face tensor names and shapes of layer `i`. */
export function expectedLayerWeights(spec: ModelDims, i: number): ExpectedWeight[] {
  const f = fieldOf(spec);
  const D = spec.hiddenSize;
  const I = spec.intermediateSize;
  const dH = f('hiddenSize', D);
  const dI = f('intermediateSize', I);
  const b = { because: f('numLayers', spec.numLayers) };
  const out: ExpectedWeight[] = [];
  const add = (name: string, shape: number[], dims: string[], extra: Partial<ExpectedWeight> = b) =>
    out.push({ name, shape, dims, ...extra });
  if (spec.arch === 'gpt2') {
    // Conv1D stores weights as [in, out] (the transpose of nn.Linear).
    const p = `transformer.h.${i}`;
    add(`${p}.ln_1.weight`, [D], [dH]);
    add(`${p}.ln_1.bias`, [D], [dH]);
    add(`${p}.attn.c_attn.weight`, [D, 3 * D], [dH, `3×${dH}`]);
    add(`${p}.attn.c_attn.bias`, [3 * D], [`3×${dH}`]);
    add(`${p}.attn.c_proj.weight`, [D, D], [dH, dH]);
    add(`${p}.attn.c_proj.bias`, [D], [dH]);
    add(`${p}.ln_2.weight`, [D], [dH]);
    add(`${p}.ln_2.bias`, [D], [dH]);
    add(`${p}.mlp.c_fc.weight`, [D, I], [dH, dI]);
    add(`${p}.mlp.c_fc.bias`, [I], [dI]);
    add(`${p}.mlp.c_proj.weight`, [I, D], [dI, dH]);
    add(`${p}.mlp.c_proj.bias`, [D], [dH]);
    return out;
  }
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const dE = f('headDim', spec.headDim);
  const dQ = `${f('numHeads', spec.numHeads)} × ${dE}`;
  const dKV = `${f('numKvHeads', spec.numKvHeads)} × ${dE}`;
  const p = `model.layers.${i}`;
  if (spec.arch === 'phi3') {
    // Fused projections: q, k, v rows stacked in one matrix; gate then up rows in another.
    add(`${p}.self_attn.qkv_proj.weight`, [q + 2 * kv, D], [`${dQ} + 2×${dKV}`, dH]);
    add(`${p}.self_attn.o_proj.weight`, [D, q], [dH, dQ]);
    add(`${p}.mlp.gate_up_proj.weight`, [2 * I, D], [`2×${dI}`, dH]);
    add(`${p}.mlp.down_proj.weight`, [D, I], [dH, dI]);
    add(`${p}.input_layernorm.weight`, [D], [dH]);
    add(`${p}.post_attention_layernorm.weight`, [D], [dH]);
    return out;
  }
  add(`${p}.self_attn.q_proj.weight`, [q, D], [dQ, dH]);
  add(`${p}.self_attn.k_proj.weight`, [kv, D], [dKV, dH]);
  add(`${p}.self_attn.v_proj.weight`, [kv, D], [dKV, dH]);
  add(`${p}.self_attn.o_proj.weight`, [D, q], [dH, dQ]);
  if (spec.qkvBias) {
    const why = { because: spec.arch === 'qwen2' ? 'model_type=qwen2' : f('qkvBias', true) };
    add(`${p}.self_attn.q_proj.bias`, [q], [dQ], why);
    add(`${p}.self_attn.k_proj.bias`, [kv], [dKV], why);
    add(`${p}.self_attn.v_proj.bias`, [kv], [dKV], why);
  }
  if (spec.oBias) add(`${p}.self_attn.o_proj.bias`, [D], [dH], { because: f('oBias', true) });
  if (spec.qkNorm) {
    const why = { because: `model_type=${spec.arch}` };
    add(`${p}.self_attn.q_norm.weight`, [spec.headDim], [dE], why);
    add(`${p}.self_attn.k_norm.weight`, [spec.headDim], [dE], why);
  }
  add(`${p}.mlp.gate_proj.weight`, [I, D], [dI, dH]);
  add(`${p}.mlp.up_proj.weight`, [I, D], [dI, dH]);
  add(`${p}.mlp.down_proj.weight`, [D, I], [dH, dI]);
  if (spec.mlpBias) {
    const why = { because: f('mlpBias', true) };
    add(`${p}.mlp.gate_proj.bias`, [I], [dI], why);
    add(`${p}.mlp.up_proj.bias`, [I], [dI], why);
    add(`${p}.mlp.down_proj.bias`, [D], [dH], why);
  }
  add(`${p}.input_layernorm.weight`, [D], [dH]);
  add(`${p}.post_attention_layernorm.weight`, [D], [dH]);
  return out;
}

/**
 * Every Hugging Face tensor name and shape that `spec` implies: embeddings, each layer, final
 * norm, lm_head. Its length is proportional to numLayers, so callers check numLayers against the
 * weights first (weights.ts checkLayerCount).
 */
export function expectedWeights(spec: ModelDims): ExpectedWeight[] {
  const [embed, ...rest] = globalWeights(spec);
  const out = [embed];
  if (spec.arch === 'gpt2') out.push(rest.shift() as ExpectedWeight); // wpe sits before the layers
  for (let i = 0; i < spec.numLayers; i++) out.push(...expectedLayerWeights(spec, i));
  out.push(...rest);
  return out;
}
