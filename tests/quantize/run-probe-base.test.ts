// A run's probe prompts load the base its trainer prepared (ModelRunner's `runBase`), never one of
// their own. Chatting's `auto` rule and training's weigh a quantized base differently (chatting packs
// the codes, ≈1.14×; training too large to pack reads them as they are), so near the memory
// thresholds they chose different forms and a run converted two stores: int4 for its probes and
// int8 for its trainer (bf16→int8 is about 2 minutes at 1.1B). Real conversion, real session.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { basesRoot } from '../../native-runtime/quantize/base.ts';
import { prepareModel } from '../../native-runtime/runtime/precision.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const MODEL = modelDir('llama-bf16');
/** Bytes of "memory" at which the fixture's `auto` is int4 for chatting and int8 for training. */
const MEMORY = 300_000;

/** The forms converted into `dataDir` so far. */
const stores = (dataDir: string): string[] =>
  existsSync(basesRoot(dataDir))
    ? readdirSync(basesRoot(dataDir)).flatMap((fp) => readdirSync(join(basesRoot(dataDir), fp)))
    : [];

test("the probes take the run's own base form, where chatting's rule would convert another", async () => {
  const spec = loadModelSpec(MODEL);
  const at = { quantize: 'auto', device: 'cpu' as const, totalMemory: MEMORY };
  // The two rules part here (what the probes chose before).
  const chatting = await prepareModel(spec, { ...at, dataDir: tempDir('run-probe-chat-') });
  const dataDir = tempDir('run-probe-base-');
  const trained = await prepareModel(spec, { ...at, dataDir, training: true });
  assert.equal(trained.base?.form, 'int8-b32');
  // No room to pack for training here: the probes then read the shared codes unpacked too.
  assert.equal(trained.base?.backward, 'dequantize');
  assert.notEqual(chatting.base?.form, trained.base?.form, 'the rules no longer part: pick another memory');
  const converted = stores(dataDir);

  const notices: string[] = [];
  const runner = await ModelRunner.load(MODEL, null, {
    device: 'cpu',
    dataDir,
    runBase: trained,
    onNotice: (m) => notices.push(m),
  });
  try {
    assert.equal(runner.spec.base?.form, trained.base?.form);
    assert.equal(runner.spec.base?.dir, trained.base?.dir, "the trainer's store, not a copy");
    // The backward layout is the training graph's alone: an inference session does not map it.
    assert.equal(runner.spec.base?.backward, undefined);
    assert.deepEqual(stores(dataDir), converted, 'nothing converted again');
    assert.deepEqual(notices, ['loading the model into ONNX Runtime']);
    const [out] = await runner.generate(['Question 3?'], { maxNewTokens: 2, greedy: true });
    assert.equal(out.tokens, 2);
  } finally {
    await runner.release();
  }
});
