// The models users bring: the config.json of popular small checkpoints (Llama 3.2, SmolLM2,
// TinyLlama, Qwen2.5, Qwen3, Mistral v0.3, Gemma, GPT-2, Phi-3 / 3.5; and Gemma 2/3, OLMo 2, Granite),
// layers and widths shrunk but every other field as published, with the tensor names and layout
// their checkpoints use (tests/fixtures/zoo/NAME/tensors.json). Each supported one must read with
// the features its config declares; each other one must be refused in one line naming what.
//
// The weights are sparse files (a header, then a hole): the spec reads headers only. The stand-ins'
// logits were checked against a PyTorch reference when they were made (session 22's report).

import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '../../native-runtime/errors.ts';
import { dtypeBytes, type SafetensorsDtype } from '../../native-runtime/formats/safetensors.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { ropeInvFreq, ropeTables } from '../../native-runtime/models/decoder.ts';
import { createSession, ort, runSession } from '../../native-runtime/runtime/session.ts';
import { runPython, torchSkipReason } from '../adapters/torch-python.ts';
import { tempDir } from '../helpers/temp.ts';

const ZOO = fileURLToPath(new URL('../fixtures/zoo/', import.meta.url));

/** A model folder of zoo entry `name`: its config.json and, when it lists them, its tensors (holes). */
function zooModel(name: string): string {
  const dir = tempDir(`reft-zoo-${name}-`);
  writeFileSync(join(dir, 'config.json'), readFileSync(join(ZOO, name, 'config.json')));
  if (!readdirSync(join(ZOO, name)).includes('tensors.json')) return dir;
  const tensors: Record<string, [SafetensorsDtype, number[]]> = JSON.parse(
    readFileSync(join(ZOO, name, 'tensors.json'), 'utf8'),
  );
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [tensor, [dtype, shape]] of Object.entries(tensors)) {
    const bytes = shape.reduce((a, b) => a * b, dtypeBytes(dtype));
    header[tensor] = { dtype, shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  writeSync(fd, Buffer.concat([len, json]));
  // The last byte only: the data before it stays a hole.
  writeSync(fd, Buffer.alloc(1), 0, 1, 8 + json.length + at - 1);
  closeSync(fd);
  return dir;
}

describe('popular checkpoints the studio reads', () => {
  const read = (name: string) => loadModelSpec(zooModel(name));
  const rope = (s: ModelSpec) => s.rope ?? assert.fail('a rotary model');

  test('Llama-3.2-1B-Instruct: llama3 rope scaling, tied embeddings, three end tokens', () => {
    const s = read('llama-3.2-1b-instruct');
    assert.deepEqual(rope(s).scaling, {
      type: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositions: 8192,
    });
    assert.equal(rope(s).theta, 500000);
    assert.equal(s.tieEmbeddings, true);
    assert.deepEqual(s.eosTokenIds, [128001, 128008, 128009]);
    assert.equal(s.dtype, 'bfloat16');
  });

  // transformers' _compute_llama3_parameters, each step in float32: computed in double and rounded
  // once, one of Llama 3.2's medium frequencies landed an ulp away (of three of Llama 3.1 8B's 64).
  test("Llama-3.2-1B-Instruct: llama3-scaled frequencies are transformers' bit for bit", {
    skip: torchSkipReason(),
  }, () => {
    const dir = zooModel('llama-3.2-1b-instruct');
    const ours = Array.from(ropeInvFreq(loadModelSpec(dir)));
    const want = runPython<number[]>(
      `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torchref
cfg = json.load(open(sys.argv[2] + '/config.json'))
print(json.dumps(torchref.inv_freq(cfg, cfg['head_dim']).tolist()))
`,
      [fileURLToPath(new URL('../tools/', import.meta.url)), dir],
    );
    assert.deepEqual(ours, want);
  });

  test('SmolLM2-360M-Instruct: 3 heads to 1 KV head (the 15:5 ratio), tied', () => {
    const s = read('smollm2-360m-instruct');
    assert.deepEqual([s.numHeads, s.numKvHeads, s.headDim], [3, 1, 64]);
    assert.equal(s.tieEmbeddings, true);
    assert.equal(rope(s).theta, 100000);
  });

  test('TinyLlama-1.1B-Chat: head size from hidden/heads, own LM head', () => {
    const s = read('tinyllama-1.1b-chat');
    assert.equal(s.headDim, 64);
    assert.equal(s.absent?.headDim, 'hidden_size / num_attention_heads');
    assert.equal(s.tieEmbeddings, false);
    assert.equal(rope(s).scaling, null);
  });

  test('Qwen2.5-0.5B-Instruct: q/k/v biases, tied, sliding window off (use_sliding_window false)', () => {
    const s = read('qwen2.5-0.5b-instruct');
    assert.deepEqual([s.qkvBias, s.oBias, s.mlpBias], [true, false, false]);
    assert.equal(s.tieEmbeddings, true);
    assert.equal(s.slidingWindow, null);
  });

  test('Qwen3-0.6B: q/k norms, head size 128 wider than hidden/heads, tied', () => {
    const s = read('qwen3-0.6b');
    assert.equal(s.qkNorm, true);
    assert.equal(s.headDim, 128);
    assert.notEqual(s.headDim * s.numHeads, s.hiddenSize);
    assert.equal(s.tieEmbeddings, true);
    assert.equal(s.slidingWindow, null);
  });

  test('Mistral-7B-Instruct-v0.3: sliding_window null means full attention', () => {
    const s = read('mistral-7b-instruct-v0.3');
    assert.equal(s.slidingWindow, null);
    assert.equal(s.headDim, 128);
    assert.equal(s.tieEmbeddings, false);
  });

  test('gemma-2b-it: hidden_act "gelu" with hidden_activation null runs the tanh GELU', () => {
    const s = read('gemma-2b-it');
    assert.equal(s.act, 'gelu_tanh');
    assert.equal(s.norm.weightOffset, 1);
    assert.equal(s.embedScale, Math.sqrt(256));
    assert.equal(s.tieEmbeddings, true);
  });

  test('Phi-3-mini-4k-instruct: fused qkv/gate_up, no rope scaling, a 2047-token window in every layer', () => {
    const s = read('phi-3-mini-4k-instruct');
    assert.equal(s.arch, 'phi3');
    assert.ok(s.weights.has('model.layers.1.self_attn.qkv_proj.weight'));
    assert.ok(s.weights.has('model.layers.1.mlp.gate_up_proj.weight'));
    assert.equal(rope(s).scaling, null);
    assert.deepEqual(s.slidingWindow, { size: 2047, layers: [true, true] });
    assert.equal(s.tieEmbeddings, false);
    assert.equal(s.norm.eps, 1e-5);
  });

  test('Phi-3.5-mini-instruct: longrope from 4096 positions, attention factor from 131072/4096', () => {
    const sc = rope(read('phi-3.5-mini-instruct')).scaling;
    assert.ok(sc?.type === 'longrope', 'longrope');
    assert.equal(sc.originalMaxPositions, 4096);
    // The published factors (microsoft/Phi-3.5-mini-instruct config.json): a few entries of each list.
    assert.deepEqual(
      [sc.shortFactor.length, sc.shortFactor[1], sc.shortFactor[47]],
      [48, 1.0199999809265137, 2.8399994373321533],
    );
    assert.deepEqual(
      [sc.longFactor.length, sc.longFactor[0], sc.longFactor[47]],
      [48, 1.0800000429153442, 64.83999633789062],
    );
    assert.ok(Math.abs(sc.attentionFactor - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-12);
  });

  // Rows as the engine decides them: short_factor while a row's last position is below 4096, long_factor
  // (for every position of the pass, small ones too) once it reaches 4096. Each row is checked against
  // torchref.py's transformers formula on that row alone (transformers decides per batch).
  const ROPE_ROWS = [
    [0, 1, 2047, 4095],
    [4095, 4096, 65536, 131071],
    [0, 1, 2, 4096],
  ];
  test("Phi-3.5-mini-instruct: the rope tables match transformers' longrope below and above 4096", {
    skip: torchSkipReason(),
  }, async () => {
    const dir = zooModel('phi-3.5-mini-instruct');
    const spec = loadModelSpec(dir);
    const b = new GraphBuilder('rope');
    const { cos, sin } = ropeTables(b, spec, b.input('position_ids', 'int64', ['B', 'T']));
    b.output(cos, 'cos');
    b.output(sin, 'sin');
    const [B, T] = [ROPE_ROWS.length, ROPE_ROWS[0].length];
    const out = await runSession(await createSession(b.graph), {
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ROPE_ROWS.flat(), BigInt), [B, T]),
    });
    const ref = runPython<{ cos: number[]; sin: number[] }>(
      `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torchref
m = torchref.Model(sys.argv[2])
rows = [torchref.longrope_tables(m.longrope, torch.tensor([r])) for r in json.loads(sys.argv[3])]
print(json.dumps({k: torch.cat([r[i] for r in rows]).flatten().tolist() for i, k in enumerate(('cos', 'sin'))}))
`,
      [fileURLToPath(new URL('../tools/', import.meta.url)), dir, JSON.stringify(ROPE_ROWS)],
    );
    // The engine folds rotate_half's sign into sin's first half.
    const E = spec.headDim;
    const ours = {
      cos: out.cos.data as Float32Array,
      sin: (out.sin.data as Float32Array).map((v, i) => (i % E < E / 2 ? -v : v)),
    };
    for (const k of ['cos', 'sin'] as const) {
      let err = 0;
      for (let i = 0; i < ref[k].length; i++) err = Math.max(err, Math.abs(ours[k][i] - ref[k][i]));
      assert.ok(err < 5e-5, `${k}: max error ${err}`);
    }
  });

  test('gpt2: the original names and attn.bias buffers, tied', () => {
    const s = read('gpt2');
    assert.equal(s.act, 'gelu_tanh');
    assert.equal(s.tieEmbeddings, true);
    assert.ok(s.weights.has('transformer.h.1.mlp.c_proj.weight'));
  });
});

describe('checkpoints the studio refuses, in one line naming what', () => {
  for (const [name, what] of [
    ['gemma-2-2b-it', 'model_type "gemma2"'],
    ['gemma-3-1b-it', 'model_type "gemma3_text"'],
    ['olmo-2-1b', 'model_type "olmo2"'],
    ['granite-3.1-2b-instruct', 'model_type "granite"'],
    ['gpt2-stanford-crfm', 'scale_attn_by_inverse_layer_idx true'],
  ] as const) {
    test(`${name}: ${what}`, () => {
      assert.throws(
        () => loadModelSpec(zooModel(name)),
        (e: unknown) =>
          e instanceof UnsupportedError && e.message.includes(what) && !e.message.includes('\n'),
      );
    });
  }
});

describe('Phi-3 variants the studio refuses, in one line', () => {
  /** Zoo entry `name` with its config.json edited. */
  const edited = (name: string, edit: (c: Record<string, unknown>) => void): string => {
    const dir = zooModel(name);
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    edit(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    return dir;
  };
  const oneLine = (what: string) => (e: unknown) =>
    e instanceof Error && e.message.includes(what) && !e.message.includes('\n');

  test('Phi-4-mini: partial_rotary_factor 0.75 (rotary over part of each head)', () => {
    const dir = edited('phi-3.5-mini-instruct', (c) => {
      c.partial_rotary_factor = 0.75;
    });
    assert.throws(() => loadModelSpec(dir), oneLine('partial_rotary_factor 0.75 is not supported'));
  });

  test('longrope factor lists of another length than head_dim/2', () => {
    const dir = edited('phi-3.5-mini-instruct', (c) => {
      (c.rope_scaling as Record<string, unknown>).long_factor = [1, 1, 1, 1];
    });
    assert.throws(
      () => loadModelSpec(dir),
      oneLine('rope_scaling.long_factor must list 48 positive numbers'),
    );
  });
});
