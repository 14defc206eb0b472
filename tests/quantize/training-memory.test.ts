// What a CPU training run on an int8/int4 base holds beyond its packed codes and activations
// (quantize/memory.ts quantizedTrainingExtra), as the run estimate (library/estimates.ts) and the
// trainer's pre-run check (training/recompute.ts stepMemoryIssue) count it. The TinyLlama shape at
// int8, batch 2 × 64, all layers LoReFT peaked at 3.8 GB RSS while the estimate said 2.85 GB: the
// session keeps Ŵᵀ's int8 codes mapped until every weight is packed, and both layouts' scales stay
// mapped beside the packed copies. Sizes are computed from the shape, never measured here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryEstimate } from '../../electron/backend/library/memory-estimate.ts';
import { syntheticShape } from '../../native-runtime/bench/synthetic.ts';
import {
  baseWeightBytes,
  MAX_DEQUANTIZED_ELEMENTS,
  quantizedTrainingExtra,
} from '../../native-runtime/quantize/memory.ts';
import { stepActivationBytes, stepMemoryIssue } from '../../native-runtime/training/recompute.ts';

const GB = 1e9;
const tinyllama = syntheticShape('tinyllama-1.1b');
const shape = { ...tinyllama, tied: tinyllama.tieEmbeddings };
// The quantized linear layers: everything but the embeddings and the LM head.
const linear = tinyllama.params - 2 * tinyllama.vocabSize * tinyllama.hiddenSize;
const packs = 24 * GB; // packing fits in a third of it
const unpacked = 7 * GB; // it does not

test('packed: both layouts’ scales stay mapped beside the packed codes', () => {
  // The packed layouts (1.14× the forward's codes and Ŵᵀ's) and the LM head's mapped codes.
  const packed = linear * (1 + 4 / 32) * 1.14 * 2 + tinyllama.vocabSize * tinyllama.hiddenSize * (1 + 4 / 32);
  assert.equal(baseWeightBytes(shape, 'int8', 'train', packs), Math.round(packed + 2 * linear * (4 / 32)));
  // Chatting packs the forward only; its bytes are as before.
  assert.equal(
    baseWeightBytes(shape, 'int8', 'chat', packs),
    Math.round(
      linear * (1 + 4 / 32) * 1.14 + tinyllama.vocabSize * tinyllama.hiddenSize * (1 + 4 / 32) * 1.14,
    ),
  );
});

test('packed: Ŵᵀ’s int8 codes are held while the session is made; unpacked: two float32 copies of the largest matrix', () => {
  assert.deepEqual(quantizedTrainingExtra(shape, 'int8', packs), { loadBytes: linear, stepBytes: 0 });
  assert.deepEqual(quantizedTrainingExtra(shape, 'int4', packs), { loadBytes: linear, stepBytes: 0 });
  // TinyLlama's LM head (32000 × 2048) is its largest matrix, under the 2^26-element split.
  const head = tinyllama.vocabSize * tinyllama.hiddenSize;
  assert.deepEqual(quantizedTrainingExtra(shape, 'int8', unpacked), {
    loadBytes: 0,
    stepBytes: 2 * 4 * head,
  });
  // Llama-3-8B's head (128256 × 4096) is dequantized in pieces of at most 2^26 elements.
  const llama3 = { params: 8.03e9, hiddenSize: 4096, intermediateSize: 14336, vocabSize: 128256 };
  assert.equal(quantizedTrainingExtra(llama3, 'int4', 24 * GB).stepBytes, 2 * 4 * MAX_DEQUANTIZED_ELEMENTS);
  // Float bases hold none of this.
  assert.deepEqual(quantizedTrainingExtra(shape, 'none', packs), { loadBytes: 0, stepBytes: 0 });
  assert.deepEqual(quantizedTrainingExtra(shape, 'fp16', unpacked), { loadBytes: 0, stepBytes: 0 });
});

test('the run estimate counts the larger of the load and the step, beside the weights', () => {
  const at = (batch: number, memoryBytes: number) =>
    memoryEstimate(tinyllama, batch, 64, 0, { quantize: 'int8', tied: false, memoryBytes });
  // 2 × 64 (the measured 3.8 GB): the load is larger than the step's activations.
  const small = at(2, packs);
  assert.equal(small.loadBytes, linear);
  assert.ok(small.activationBytes < small.loadBytes);
  assert.equal(small.totalBytes, small.weightsBytes + small.loadBytes);
  assert.ok(small.totalBytes > 3.7 * GB, `${small.totalBytes}`);
  // 8 × 64: the step is larger.
  const large = at(8, packs);
  assert.ok(large.activationBytes > large.loadBytes);
  assert.equal(large.totalBytes, large.weightsBytes + large.activationBytes);
  // Unpacked: the dequantized copies count in every step.
  const slow = at(2, unpacked);
  assert.equal(slow.loadBytes, 0);
  assert.equal(slow.totalBytes, slow.weightsBytes + slow.activationBytes + slow.dequantizeBytes);
  assert.equal(slow.dequantizeBytes, 2 * 4 * tinyllama.vocabSize * tinyllama.hiddenSize);
  // A float base: the sum of its parts, as before.
  const f32 = memoryEstimate(tinyllama, 2, 64, 1000, { memoryBytes: packs });
  assert.equal(f32.totalBytes, f32.weightsBytes + f32.activationBytes + f32.optimizerBytes);
  // On a GPU the codes are uploaded as stored: no CPU packing.
  const gpu = memoryEstimate(tinyllama, 2, 64, 0, { quantize: 'int8', memoryBytes: packs, gpu: 'cuda' });
  assert.equal(gpu.loadBytes + gpu.dequantizeBytes, 0);
});

test('the pre-run check counts the dequantized copies of an unpacked base', () => {
  const w = { batch: 1, tokens: 64 };
  const step = stepActivationBytes(tinyllama, w, true);
  // A memory whose weights' share holds the codes and one step, but not the copies beside them.
  const extra = 2 * 4 * tinyllama.vocabSize * tinyllama.hiddenSize;
  const memory = (baseWeightBytes(shape, 'int8', 'train', unpacked) + step + extra / 2) / 0.9;
  const weightsBytes = baseWeightBytes(shape, 'int8', 'train', memory);
  const quantized = quantizedTrainingExtra(shape, 'int8', memory);
  assert.equal(quantized.stepBytes, extra, 'too small to pack');
  assert.equal(
    stepMemoryIssue(tinyllama, memory, { ...w, weightsBytes })?.cli ?? null,
    null,
    'without them it would pass',
  );
  const why = stepMemoryIssue(tinyllama, memory, { ...w, weightsBytes, quantized })?.cli ?? '';
  assert.match(why, /^a training step of 1 × 64 tokens needs about/);
  assert.match(why, /use a shorter maximum length or a smaller model/);
});
