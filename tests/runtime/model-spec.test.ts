// loadModelSpec and the weight index on the golden model folders: key fields per architecture,
// old-style rope fields, sharded checkpoints, and every way a folder can be broken (each error
// must carry its code and name the file and the field).

import assert from 'node:assert/strict';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FormatError, type ReftError, UnsupportedError } from '../../native-runtime/errors.ts';
import {
  encodeSafetensors,
  type LoadedTensor,
  loadSafetensors,
  type TensorToWrite,
} from '../../native-runtime/formats/safetensors.ts';
import { expectedWeights } from '../../native-runtime/models/arch.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import {
  openModelFolder,
  resolveModelFolder,
  summarizeModel,
} from '../../native-runtime/models/model-folder.ts';
import { tempDir } from '../helpers/temp.ts';

const MODELS = fileURLToPath(new URL('../fixtures/golden/models/', import.meta.url));
const model = (arch: string) => join(MODELS, arch);

/** A writable copy of a fixture folder (fixtures are read-only), minus `skip` files. */
function copyModel(arch: string, skip: string[] = []): string {
  const dir = tempDir(`reft-spec-${arch}-`);
  for (const f of readdirSync(model(arch))) {
    if (skip.includes(f) || f.startsWith('golden_')) continue;
    writeFileSync(join(dir, f), readFileSync(join(model(arch), f)));
  }
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const p = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(p, 'utf8'));
  edit(c);
  writeFileSync(p, JSON.stringify(c, null, 2));
}

function assertError(fn: () => unknown, cls: typeof ReftError, code: string, mentions: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.equal((e as ReftError).code, code);
    for (const m of mentions)
      assert.ok((e as Error).message.includes(m), `message "${(e as Error).message}" should mention "${m}"`);
    return true;
  });
}

describe('loadModelSpec on the golden fixtures', () => {
  test('llama: GQA 4/2, rms norm, untied', () => {
    const s = loadModelSpec(model('llama'));
    assert.equal(s.arch, 'llama');
    assert.deepEqual(s.architectures, ['LlamaForCausalLM']);
    assert.equal(s.numLayers, 4);
    assert.equal(s.hiddenSize, 64);
    assert.equal(s.numHeads, 4);
    assert.equal(s.numKvHeads, 2);
    assert.equal(s.headDim, 16);
    assert.equal(s.intermediateSize, 160);
    assert.equal(s.vocabSize, 640);
    assert.deepEqual(s.norm, { kind: 'rms', eps: 1e-5, weightOffset: 0 });
    assert.equal(s.act, 'silu');
    assert.deepEqual(s.rope, { theta: 10000, scaling: null });
    assert.equal(s.tieEmbeddings, false);
    assert.equal(s.dtype, 'float32');
    assert.equal(s.bosTokenId, 1);
    assert.deepEqual(s.eosTokenIds, [2]);
    assert.equal(s.padTokenId, 0);
    assert.match(s.fingerprint, /^[0-9a-f]{64}$/);
    // Every tensor in the file is a parameter here, so params is the sum over the header.
    let total = 0;
    for (const n of s.weights.names()) total += s.weights.get(n).info.shape.reduce((a, b) => a * b, 1);
    assert.equal(s.params, total);
    const e = s.weights.get('model.layers.0.self_attn.k_proj.weight');
    assert.deepEqual(e.info.shape, [32, 64]);
    assert.equal(e.file, join(model('llama'), 'model.safetensors'));
    assert.equal(s.weights.has('lm_head.weight'), true);
  });

  test('llama-bf16: dtype bfloat16, same shapes and params as llama', () => {
    const s = loadModelSpec(model('llama-bf16'));
    assert.equal(s.dtype, 'bfloat16');
    assert.equal(s.weights.get('model.norm.weight').info.dtype, 'BF16');
    assert.equal(s.params, loadModelSpec(model('llama')).params);
    assert.notEqual(s.fingerprint, loadModelSpec(model('llama')).fingerprint);
  });

  test('qwen2: q/k/v biases, no o bias, tied embeddings', () => {
    const s = loadModelSpec(model('qwen2'));
    assert.equal(s.arch, 'qwen2');
    assert.equal(s.qkvBias, true);
    assert.equal(s.oBias, false);
    assert.equal(s.tieEmbeddings, true);
    assert.equal(s.weights.has('lm_head.weight'), false);
    assert.equal(s.rope?.theta, 1e6);
    assert.deepEqual(s.eosTokenIds, []);
    assert.equal(s.bosTokenId, null);
  });

  test('qwen3: head_dim 32 ≠ hidden/heads, q/k norm', () => {
    const s = loadModelSpec(model('qwen3'));
    assert.equal(s.headDim, 32);
    assert.equal(s.qkNorm, true);
    assert.equal(s.qkvBias, false);
    assert.ok(
      expectedWeights(s).some(
        (w) => w.name === 'model.layers.2.self_attn.q_norm.weight' && w.shape[0] === 32,
      ),
    );
  });

  test('gemma: weight + 1, embeddings × sqrt(hidden), tanh GELU, one KV head', () => {
    const s = loadModelSpec(model('gemma'));
    assert.equal(s.norm.weightOffset, 1);
    assert.equal(s.embedScale, 8);
    assert.equal(s.act, 'gelu_tanh');
    assert.equal(s.numKvHeads, 1);
    assert.equal(s.tieEmbeddings, true);
    assert.equal(s.bosTokenId, 2);
    assert.deepEqual(s.eosTokenIds, [1]);
  });

  test('gpt2: learned positions, LayerNorm, Conv1D shapes', () => {
    const s = loadModelSpec(model('gpt2'));
    assert.equal(s.rope, null);
    assert.equal(s.norm.kind, 'layer');
    assert.equal(s.maxPositions, 128);
    assert.equal(s.intermediateSize, 256);
    assert.equal(s.act, 'gelu_tanh');
    assert.equal(s.qkvBias && s.oBias && s.mlpBias, true);
    assert.deepEqual(s.weights.get('transformer.h.0.attn.c_attn.weight').info.shape, [64, 192]);
    assert.equal(s.numKvHeads, s.numHeads);
  });

  test('every stored tensor is expected and every expected one is stored (all six)', () => {
    for (const arch of ['llama', 'llama-bf16', 'qwen2', 'qwen3', 'gemma', 'gpt2']) {
      const s = loadModelSpec(model(arch));
      const expected = new Set(
        expectedWeights(s)
          .filter((w) => !w.optional || s.weights.has(w.name))
          .map((w) => w.name),
      );
      assert.deepEqual([...expected].sort(), s.weights.names(), arch);
    }
  });

  test('fingerprint is stable and changes with config.json', () => {
    const a = loadModelSpec(model('llama')).fingerprint;
    assert.equal(loadModelSpec(model('llama')).fingerprint, a);
    const dir = copyModel('llama');
    assert.equal(
      loadModelSpec(dir).fingerprint,
      a,
      'a byte-identical copy elsewhere has the same fingerprint',
    );
    editConfig(dir, (c) => {
      c.rms_norm_eps = 1e-6;
    });
    assert.notEqual(loadModelSpec(dir).fingerprint, a);
  });
});

describe('config variants', () => {
  test('old-style rope_theta + rope_scaling llama3, torch_dtype, eos list', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      delete c.rope_parameters;
      delete c.dtype;
      c.torch_dtype = 'bfloat16';
      c.rope_theta = 500000.0;
      c.rope_scaling = {
        rope_type: 'llama3',
        factor: 32.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 8192,
      };
      c.eos_token_id = [2, 3];
    });
    writeFileSync(
      join(dir, 'generation_config.json'),
      JSON.stringify({ bos_token_id: 1, do_sample: true, temperature: 0.6, top_p: 0.9 }),
    );
    const s = loadModelSpec(dir);
    assert.deepEqual(s.rope, {
      theta: 500000,
      scaling: {
        type: 'llama3',
        factor: 32,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositions: 8192,
      },
    });
    assert.equal(s.dtype, 'bfloat16');
    assert.deepEqual(s.eosTokenIds, [2, 3]);
    assert.deepEqual(s.generation, { doSample: true, temperature: 0.6, topP: 0.9 });
  });

  test('rope_scaling with the old "type" key (linear) and generation_config eos overriding', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      delete c.rope_parameters;
      c.rope_scaling = { type: 'linear', factor: 2.0 };
    });
    writeFileSync(
      join(dir, 'generation_config.json'),
      JSON.stringify({ eos_token_id: [2, 5], max_new_tokens: 64, top_k: 40, repetition_penalty: 1.1 }),
    );
    const s = loadModelSpec(dir);
    assert.deepEqual(s.rope, { theta: 10000, scaling: { type: 'linear', factor: 2 } });
    assert.deepEqual(s.eosTokenIds, [2, 5]);
    assert.deepEqual(s.generation, { maxNewTokens: 64, topK: 40, repetitionPenalty: 1.1 });
  });

  test('rope_parameters with llama3 scaling (transformers 5 spelling)', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.rope_parameters = {
        rope_theta: 500000,
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      };
    });
    assert.deepEqual(loadModelSpec(dir).rope?.scaling, {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositions: 8192,
    });
  });

  test('unsupported rope type (yarn) is refused naming the field', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.rope_parameters = { rope_theta: 10000, rope_type: 'yarn', factor: 4 };
    });
    assertError(() => loadModelSpec(dir), UnsupportedError, 'unsupported-rope', [
      'config.json',
      'rope_type',
      'yarn',
    ]);
  });

  test('partial_rotary_factor is refused: the decoder rotates whole heads', () => {
    // Read before and then ignored: a rotary embedding over half of each head computed as a full one.
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.partial_rotary_factor = 0.5;
    });
    assertError(() => loadModelSpec(dir), UnsupportedError, 'unsupported-rope', [
      'config.json',
      'partial_rotary_factor 0.5',
    ]);
    const whole = copyModel('llama');
    editConfig(whole, (c) => {
      c.rope_parameters = { rope_theta: 10000, rope_type: 'default', partial_rotary_factor: 1 };
    });
    assert.equal(loadModelSpec(whole).rope?.theta, 10000);
  });

  test("gpt2's attention-scaling variants are refused naming the field, not computed as plain GPT-2", () => {
    // scale_attn_by_inverse_layer_idx (e.g. the Stanford CRFM GPT-2 runs) divides each layer's
    // scores by its index + 1; scale_attn_weights false drops the 1/sqrt(head size). Neither is built.
    for (const [field, value, mention] of [
      ['scale_attn_by_inverse_layer_idx', true, 'scale_attn_by_inverse_layer_idx true'],
      ['scale_attn_weights', false, 'scale_attn_weights false'],
    ] as const) {
      const dir = copyModel('gpt2');
      editConfig(dir, (c) => {
        c[field] = value;
      });
      assertError(() => loadModelSpec(dir), UnsupportedError, 'unsupported-attention', [
        'config.json',
        mention,
      ]);
    }
    // reorder_and_upcast_attn only changes the precision of the same product: accepted.
    const dir = copyModel('gpt2');
    editConfig(dir, (c) => {
      c.reorder_and_upcast_attn = true;
    });
    assert.equal(loadModelSpec(dir).arch, 'gpt2');
  });

  test('no dtype in config: taken from the weights', () => {
    const dir = copyModel('llama-bf16');
    editConfig(dir, (c) => {
      delete c.dtype;
    });
    assert.equal(loadModelSpec(dir).dtype, 'bfloat16');
  });

  test('mistral model_type is accepted with llama-shaped weights', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.model_type = 'mistral';
      c.architectures = ['MistralForCausalLM'];
    });
    const s = loadModelSpec(dir);
    assert.equal(s.arch, 'mistral');
    assert.equal(s.qkvBias, false);
  });

  test('HF cache layout resolves to the snapshot named by refs/main', () => {
    const root = tempDir('reft-cache-');
    const snap = join(root, 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(root, 'refs'));
    const src = copyModel('gpt2');
    for (const f of readdirSync(src)) writeFileSync(join(snap, f), readFileSync(join(src, f)));
    writeFileSync(join(root, 'refs', 'main'), 'abc123\n');
    assert.deepEqual(resolveModelFolder(root), { dir: snap }, 'refs/main is used, nothing to say');
    const folder = openModelFolder(root);
    const sum = summarizeModel(folder);
    assert.equal(sum.arch, 'gpt2');
    assert.equal(sum.tokenizer?.vocabSize, 384);
    assert.deepEqual(sum.warnings, []);
  });
});

describe('broken folders', () => {
  test('missing config.json', () => {
    const dir = copyModel('llama', ['config.json']);
    assertError(() => loadModelSpec(dir), FormatError, 'missing-file', ['config.json']);
  });

  test('missing model.safetensors', () => {
    const dir = copyModel('llama', ['model.safetensors']);
    assertError(() => loadModelSpec(dir), FormatError, 'missing-file', ['model.safetensors']);
  });

  test('weights linked to a blob that is gone (an interrupted or cleaned-up cache download)', () => {
    const dir = copyModel('llama', ['model.safetensors']);
    symlinkSync('../../blobs/0123abcd', join(dir, 'model.safetensors'));
    assertError(() => loadModelSpec(dir), FormatError, 'missing-file', [
      `model.safetensors: the link in ${dir} points at a file that is gone (../../blobs/0123abcd)`,
      'download the model again',
    ]);
  });

  test('truncated model.safetensors', () => {
    const dir = copyModel('llama');
    const p = join(dir, 'model.safetensors');
    truncateSync(p, statSync(p).size - 1000);
    assertError(() => loadModelSpec(dir), FormatError, 'truncated-file', ['model.safetensors', 'truncated']);
  });

  test('config.json not valid JSON', () => {
    const dir = copyModel('llama');
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llama",');
    assertError(() => loadModelSpec(dir), FormatError, 'bad-json', ['config.json']);
  });

  test('required field missing', () => {
    const dir = copyModel('qwen2');
    editConfig(dir, (c) => {
      delete c.hidden_size;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'missing-field', ['config.json', 'hidden_size']);
  });

  test('integer weights (a quantized export, a broken conversion) are refused at inspection', () => {
    const dir = copyModel('llama');
    const p = join(dir, 'model.safetensors');
    const bytes = readFileSync(p);
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, headerEnd).toString('utf8');
    const entry = '"model.layers.0.self_attn.q_proj.weight":{"dtype":"F32"';
    assert.ok(header.includes(entry), 'the fixture stores q_proj as F32 in this form');
    // Same length, so the header keeps its size: only the type changes (I32 is 4 bytes too).
    bytes.write(header.replace(entry, entry.replace('F32', 'I32')), 8, 'utf8');
    writeFileSync(p, bytes);
    assertError(() => loadModelSpec(dir), FormatError, 'unsupported-dtype', [
      'model.safetensors: model.layers.0.self_attn.q_proj.weight is stored as I32',
    ]);
  });

  test('a quantized checkpoint (GPTQ, AWQ, bitsandbytes) is refused naming its method', () => {
    for (const method of ['gptq', 'awq', 'bitsandbytes']) {
      const dir = copyModel('llama');
      editConfig(dir, (c) => {
        c.quantization_config = { quant_method: method, bits: 4 };
      });
      assertError(() => loadModelSpec(dir), UnsupportedError, 'quantized-checkpoint', [
        `config.json: a quantized checkpoint (quantization_config "${method}")`,
        'use the original model',
      ]);
    }
    // quantization_config: null (some exports write it) is no quantization.
    const plain = copyModel('llama');
    editConfig(plain, (c) => {
      c.quantization_config = null;
    });
    assert.equal(loadModelSpec(plain).arch, 'llama');
  });

  test('intermediate_size does not match the weights', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.intermediate_size = 200;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors: model.layers.0.mlp.gate_proj.weight has shape [160,64] but config.json intermediate_size=200 implies [200,64]',
    ]);
  });

  test('num_key_value_heads does not match the weights', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.num_key_value_heads = 4;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors',
      'k_proj.weight',
      'num_key_value_heads=4',
    ]);
  });

  test("num_key_value_heads absent: the message says its value is the default, not the file's", () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      delete c.num_key_value_heads;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors: model.layers.0.self_attn.k_proj.weight has shape [32,64] but config.json num_key_value_heads (absent: 4, the number of attention heads) × head_dim=16 implies [64,64]',
    ]);
  });

  test('gpt2 n_inner does not match the weights', () => {
    const dir = copyModel('gpt2');
    editConfig(dir, (c) => {
      c.n_inner = 128;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors',
      'transformer.h.0.mlp.c_fc.weight',
      'n_inner=128',
    ]);
  });

  test('too few layers in config', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.num_hidden_layers = 3;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors',
      'model.layers.3.',
      'num_hidden_layers=3',
    ]);
  });

  test('too many layers in config: the missing tensor is named', () => {
    const dir = copyModel('qwen3');
    editConfig(dir, (c) => {
      c.num_hidden_layers = 4;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors',
      'model.layers.3.self_attn.q_proj.weight',
      'missing',
      'num_hidden_layers=4',
    ]);
  });

  test('untied config without lm_head in the weights', () => {
    const dir = copyModel('qwen2');
    editConfig(dir, (c) => {
      c.tie_word_embeddings = false;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model.safetensors',
      'lm_head.weight',
      'tie_word_embeddings=false',
    ]);
  });

  test('unknown model_type lists the supported ones', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.model_type = 'falcon';
      c.architectures = ['FalconForCausalLM'];
    });
    // One short line: the class asked for, then the families by name (not every class name).
    assertError(() => loadModelSpec(dir), UnsupportedError, 'unsupported-architecture', [
      'config.json: FalconForCausalLM (model_type "falcon") is not supported (supported: Llama, Mistral, Qwen2, Qwen3, Gemma, GPT-2, Phi-3)',
    ]);
  });

  test('known family but not a causal LM class', () => {
    const dir = copyModel('llama');
    editConfig(dir, (c) => {
      c.architectures = ['LlamaForSequenceClassification'];
    });
    assertError(() => loadModelSpec(dir), UnsupportedError, 'unsupported-architecture', [
      'config.json',
      'LlamaForSequenceClassification',
      'LlamaForCausalLM',
    ]);
  });
});

describe('sharded checkpoints', () => {
  function shard(arch: string): string {
    const dir = copyModel(arch, ['model.safetensors']);
    const tensors = loadSafetensors(join(model(arch), 'model.safetensors'));
    const names = [...tensors.keys()].sort();
    const half = Math.ceil(names.length / 2);
    const parts = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    parts.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const out: Record<string, TensorToWrite> = {};
      for (const n of part) {
        const t = tensors.get(n) as LoadedTensor;
        out[n] = { dtype: 'F32', shape: t.shape, data: t.data };
        weightMap[n] = file;
      }
      writeFileSync(join(dir, file), encodeSafetensors(out, { format: 'pt' }));
    });
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    );
    return dir;
  }

  test('two shards with an index: same spec, tensors found in their shard', () => {
    const dir = shard('llama');
    const s = loadModelSpec(dir);
    const ref = loadModelSpec(model('llama'));
    assert.equal(s.params, ref.params);
    assert.equal(s.weights.source, 'model.safetensors.index.json');
    assert.equal(s.weights.headers.length, 2);
    assert.deepEqual(s.weights.names(), ref.weights.names());
    const first = s.weights.get('lm_head.weight');
    assert.equal(first.file, join(dir, 'model-00001-of-00002.safetensors'));
    const last = s.weights.get('model.norm.weight');
    assert.equal(last.file, join(dir, 'model-00002-of-00002.safetensors'));
    // Offsets point at the real bytes in the shard.
    const bytes = readFileSync(last.file).subarray(last.info.offset, last.info.offset + last.info.byteLength);
    const expected = loadSafetensors(join(model('llama'), 'model.safetensors')).get('model.norm.weight')
      ?.data as Float32Array;
    assert.deepEqual(
      new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
      expected,
    );
  });

  test('a shard listed in the index but missing', () => {
    const dir = shard('gpt2');
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    assertError(() => loadModelSpec(dir), FormatError, 'missing-file', [
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  test('a shard linked to a blob that is gone is named as such, not as absent', () => {
    const dir = shard('gpt2');
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    symlinkSync('../../blobs/4567cdef', join(dir, 'model-00002-of-00002.safetensors'));
    assertError(() => loadModelSpec(dir), FormatError, 'missing-file', [
      'model-00002-of-00002.safetensors: the link in',
      'points at a file that is gone',
    ]);
  });

  test('config mismatch names the shard holding the tensor', () => {
    const dir = shard('llama');
    editConfig(dir, (c) => {
      c.intermediate_size = 200;
    });
    assertError(() => loadModelSpec(dir), FormatError, 'config-weight-mismatch', [
      'model-0000',
      '.safetensors: model.layers.0.mlp',
      'intermediate_size=200',
    ]);
  });
});

describe('checkpoint naming variants', () => {
  test('original GPT-2 names (no transformer. prefix, attn.bias buffers) map to the canonical ones', () => {
    const dir = copyModel('gpt2', ['model.safetensors']);
    const tensors = loadSafetensors(join(model('gpt2'), 'model.safetensors'));
    const out: Record<string, TensorToWrite> = {};
    for (const [n, t] of tensors)
      out[n.replace(/^transformer\./, '')] = { dtype: 'F32', shape: t.shape, data: t.data };
    // The causal-mask buffer old checkpoints carry: not a parameter, must be ignored.
    out['h.0.attn.bias'] = { dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16) };
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(out));
    const s = loadModelSpec(dir);
    assert.equal(s.params, loadModelSpec(model('gpt2')).params);
    assert.deepEqual(s.weights.get('transformer.wte.weight').info.shape, [640, 64]);
    assert.equal(s.weights.has('wte.weight'), false);
  });

  /** A copy of the llama fixture whose tensors are renamed by `rename`. */
  function renamedLlama(rename: (name: string) => string): string {
    const dir = copyModel('llama', ['model.safetensors']);
    const out: Record<string, TensorToWrite> = {};
    for (const [n, t] of loadSafetensors(join(model('llama'), 'model.safetensors')))
      out[rename(n)] = { dtype: 'F32', shape: t.shape, data: t.data };
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(out));
    return dir;
  }

  test('a base-model checkpoint (no model. prefix) loads as transformers loads it', () => {
    const s = loadModelSpec(renamedLlama((n) => n.replace(/^model\./, '')));
    assert.equal(s.params, loadModelSpec(model('llama')).params);
    assert.deepEqual(s.weights.get('model.layers.3.mlp.up_proj.weight').info.shape, [160, 64]);
    assert.equal(s.weights.has('lm_head.weight'), true);
    assert.equal(s.weights.has('embed_tokens.weight'), false);
  });

  test("a multimodal wrapper's text model (language_model.) is refused naming where its tensors are", () => {
    for (const [rename, stored, prefix] of [
      [(n: string) => `language_model.${n}`, 'language_model.model.layers.0.', '"language_model.model."'],
      [
        (n: string) => n.replace(/^model\./, 'model.language_model.'),
        'model.language_model.layers.0.',
        '"model.language_model."',
      ],
    ] as const) {
      assertError(() => loadModelSpec(renamedLlama(rename)), FormatError, 'config-weight-mismatch', [
        'model.safetensors',
        'model.layers.0.self_attn.q_proj.weight',
        `${stored}self_attn.q_proj.weight`,
        prefix,
      ]);
    }
  });

  test('a tied model that stores lm_head anyway loads, and counts it once', () => {
    const dir = copyModel('qwen2', ['model.safetensors']);
    const tensors = loadSafetensors(join(model('qwen2'), 'model.safetensors'));
    const out: Record<string, TensorToWrite> = {};
    for (const [n, t] of tensors) out[n] = { dtype: 'F32', shape: t.shape, data: t.data };
    out['lm_head.weight'] = out['model.embed_tokens.weight'];
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(out));
    const s = loadModelSpec(dir);
    assert.equal(s.weights.has('lm_head.weight'), true);
    assert.equal(s.params, loadModelSpec(model('qwen2')).params);
  });

  test('index naming a tensor its shard lacks', () => {
    const dir = copyModel('gemma');
    const names = [...loadSafetensors(join(model('gemma'), 'model.safetensors')).keys()];
    const weightMap = Object.fromEntries(names.map((n) => [n, 'model.safetensors']));
    weightMap['model.layers.9.mlp.up_proj.weight'] = 'model.safetensors';
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    assertError(() => loadModelSpec(dir), FormatError, 'bad-index', [
      'model.safetensors.index.json',
      'model.layers.9.mlp.up_proj.weight',
    ]);
  });

  test('index pointing outside the folder is refused', () => {
    const dir = copyModel('gemma');
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { 'model.norm.weight': '../x.safetensors' } }),
    );
    assertError(() => loadModelSpec(dir), FormatError, 'bad-json', [
      'model.safetensors.index.json',
      '../x.safetensors',
    ]);
  });
});
