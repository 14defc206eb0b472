// --quantize judged one way everywhere: every command words the values it takes with scheme.ts
// quantizeForms (train and generate with auto, bench and debug forward without), train takes the
// block spellings the engine reads (int4-b64, int8-b128-zp), and the memory sizes count those
// spellings as the blocks they name — not as float weights.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryEstimate } from '../../electron/backend/library/memory-estimate.ts';
import { syntheticShape } from '../../native-runtime/bench/synthetic.ts';
import {
  baseWeightBytes,
  gpuWeightBytes,
  quantizedTrainingExtra,
  storeBytesOf,
} from '../../native-runtime/quantize/memory.ts';
import { parseQuantize, type QuantScheme, quantizeForms } from '../../native-runtime/quantize/scheme.ts';
import { optionIssues } from '../../native-runtime/training/options.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'reft-studio.js');
const LLAMA = join(ROOT, 'tests', 'fixtures', 'golden', 'models', 'llama');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', '/nonexistent-qa-home'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr };
}

test('every command words the --quantize values it takes the same way', () => {
  const withAuto = quantizeForms({ auto: true });
  const named = quantizeForms({ auto: false });
  assert.equal(withAuto, 'auto, none, int8 or int4 (optionally -b16|-b32|-b64|-b128 and -zp, e.g. int4-b64)');
  const missing = '/nonexistent-qa/model';
  for (const [args, forms] of [
    [['train', '--model', LLAMA, '--data', '/nonexistent-qa/d.jsonl'], withAuto],
    [['generate', '--model', missing, '--prompt', 'hi'], withAuto],
    [['bench', 'prefill', '--model', missing], named],
    [['debug', 'forward', '--model', missing, '--batch', 'in.safetensors', '--out', 'o.safetensors'], named],
  ] as const) {
    const r = cli(...args, '--quantize', 'int3');
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(r.stderr.includes(`--quantize must be ${forms}`), r.stderr);
    assert.match(r.stderr, /"int3"/);
  }
  // The studio's wording of the same option: its label, the same values.
  assert.deepEqual(
    optionIssues({ quantize: 'int3' }).map((i) => i.message),
    [`Base weights must be ${withAuto} (got "int3")`],
  );
});

test('train takes the block spellings the engine reads', () => {
  for (const q of ['auto', 'none', 'int8', 'int4', 'int4-b64', 'int8-b128-zp', 'int4-b32'])
    assert.deepEqual(optionIssues({ quantize: q }), [], q);
  for (const q of ['int4-b48', 'fp16', 'AUTO']) assert.equal(optionIssues({ quantize: q }).length, 1, q);
  // On the command line it passes the flag check: the run is refused for its missing data (exit 1),
  // not for its --quantize (exit 2).
  const r = cli('train', '--model', LLAMA, '--data', '/nonexistent-qa/d.jsonl', '--quantize', 'int4-b64');
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /--quantize/);
});

test('the memory sizes count a block spelling as its blocks', () => {
  const tl = syntheticShape('tinyllama-1.1b');
  const shape = { ...tl, tied: tl.tieEmbeddings };
  const GB = 1e9;
  const b64 = parseQuantize('int4-b64') as QuantScheme;
  // On a GPU: the store as uploaded, a little smaller than int4's (block 32) — never 2 bytes a weight.
  const gpu = (f: string) => gpuWeightBytes(shape, f, 'chat', 24 * GB, 2);
  assert.equal(gpu('int4-b64'), storeBytesOf(shape, b64, 2));
  assert.ok(gpu('int4-b64') < gpu('int4') && gpu('int4') < gpu('int8'));
  assert.ok(gpu('int4-b64') < tl.params);
  // Zero points add their bits per block.
  assert.ok(gpu('int4-b64-zp') > gpu('int4-b64'));
  // On the CPU: the canonical names runs record size as their short spellings.
  for (const use of ['chat', 'train'] as const) {
    assert.equal(
      baseWeightBytes(shape, 'int4-b32', use, 24 * GB),
      baseWeightBytes(shape, 'int4', use, 24 * GB),
    );
    assert.ok(
      baseWeightBytes(shape, 'int4-b64', use, 24 * GB) < baseWeightBytes(shape, 'int4', use, 24 * GB),
    );
  }
  assert.deepEqual(
    quantizedTrainingExtra(shape, 'int8-b64', 24 * GB),
    quantizedTrainingExtra(shape, 'int8', 24 * GB),
  );
  // The run estimate of a run asked for at int4-b64.
  const est = (quantize: string) =>
    memoryEstimate(tl, 2, 64, 0, { quantize, tied: false, memoryBytes: 24 * GB }).weightsBytes;
  assert.ok(est('int4-b64') < est('int4') && est('int4') < est('none'));
  // A form no scheme names is an error, not a guess.
  assert.throws(() => baseWeightBytes(shape, 'int3', 'chat'), /--quantize must be/);
});
