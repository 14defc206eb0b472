// Every size a message shows is written by native-runtime/byte-size.ts, one wording everywhere.
// Several places had their own formatter: fixed GB with one or two decimals (a small model "takes
// 0.0 GB ... more than this computer's 0.0 GB"; a conversion of "0.00 GB"; a store "needs 0.0 GB
// more"), MiB counted but labelled MB (the CUDA download: "72816 MB free" with 76.4 GB free), and
// uploads in rounded MB against whole GB. Here each message is built from small, real cases and
// must say its sizes as byteSize does.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeLibrary } from '../../electron/backend/library/library.ts';
import { beginUpload } from '../../electron/backend/library/transfers.ts';
import { UPLOAD_LIMITS } from '../../electron/backend/library/upload-limits.ts';
import { byteSize } from '../../native-runtime/byte-size.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import {
  packedTrainingBytes,
  prepareBaseLogged,
  prepareTraining,
} from '../../native-runtime/quantize/base.ts';
import { baseWeightBytes } from '../../native-runtime/quantize/memory.ts';
import { parseQuantize } from '../../native-runtime/quantize/scheme.ts';
import { ensureStore } from '../../native-runtime/quantize/store.ts';
import { MEMORY_CHECK_HINT } from '../../native-runtime/runtime/memory-check.ts';
import { checkSpace } from '../../native-runtime/runtime/nuget-download.ts';
import { hostMemoryProblem } from '../../native-runtime/runtime/precision.ts';
import { openTempLibrary } from '../adapters/helpers.ts';
import { setEnvFor } from '../helpers/env.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const llama = loadModelSpec(modelDir('llama'));
const shape = { ...llama, tied: llama.tieEmbeddings };

test("the CPU memory refusal says a small model's sizes, not 0.0 GB", (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const memory = 1e6;
  const need = (f: string) => byteSize(baseWeightBytes(shape, f, 'chat', memory));
  assert.equal(
    hostMemoryProblem(llama, 'none', 'chat', memory),
    `this model's weights take ${need('none')} in float32 on the CPU, more than this computer's ${byteSize(memory)} of memory can hold: choose int8 (${need('int8')}) or int4 (${need('int4')}) weights (the model's setting on the Models page, or --quantize), or a GPU ${MEMORY_CHECK_HINT}`,
  );
  assert.equal(need('int8'), '274 KB', 'the fixture is small: the old wording said 0.0 GB');
});

test('a conversion reports its total, and the packing note its size, in byteSize words', async () => {
  const logs: string[] = [];
  const q = await prepareBaseLogged(llama, 'int8', {
    dataDir: tempDir('size-words-'),
    log: (m) => logs.push(m),
  });
  const total = logs.find((m) => m.startsWith('converting the base weights to 8 bits: '));
  assert.match(total ?? '', /^converting the base weights to 8 bits: \d+% of \d+ KB$/, logs.join('\n'));
  await prepareTraining(q, { pack: false, log: (m) => logs.push(m) });
  assert.ok(
    logs.includes(
      `training reads the base weights (8 bits) as they are, without a transposed copy for the backward (the copy would take ${byteSize(packedTrainingBytes(q))}): slower, one shared copy`,
    ),
    logs.join('\n'),
  );
});

test('a store the disk cannot hold says how much it needs, and the margin it keeps, in byteSize words', async () => {
  await assert.rejects(
    ensureStore(llama, parseQuantize('int4'), { root: tempDir('size-words-'), reserveBytes: 2 ** 60 }),
    (e: Error) =>
      /: needs \d+ KB more on its disk, and [\d.]+ [KMGTPE]?B left free after it, but only \d+(\.\d)? [KMGT]?B is free$/.test(
        e.message,
      ),
  );
});

test('the CUDA download counts free space in the units it names', async () => {
  await assert.rejects(checkSpace(tempDir('size-words-'), 2e15), (e: Error) =>
    /^not enough disk space in .+: 2000 TB needed, \d+(\.\d)? [KMGT]?B free$/.test(e.message),
  );
});

test('an upload over its limit says both sizes in byteSize words', () => {
  const lib = openTempLibrary();
  try {
    const size = UPLOAD_LIMITS.adapter.maxBytes + 5e8;
    assert.throws(() => beginUpload(lib, 'adapter', [{ path: join('a', 'big.bin'), size }]), {
      code: 'too-large',
      message: `${byteSize(size)}: an adapter upload takes at most ${byteSize(UPLOAD_LIMITS.adapter.maxBytes)} in ${UPLOAD_LIMITS.adapter.maxFiles} files`,
    });
    // The window refuses early in the same words (uploadLimitText); "a dataset", not "an dataset".
    assert.throws(() => beginUpload(lib, 'dataset', [{ path: 'big.jsonl', size: 4.5e9 }]), {
      code: 'too-large',
      message: '4.5 GB: a dataset upload takes at most 4.0 GB in 100 files',
    });
  } finally {
    closeLibrary(lib);
  }
});
