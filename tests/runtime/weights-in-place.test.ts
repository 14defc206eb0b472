// Weights stay in the memory-mapped safetensors file: ONNX Runtime must not copy them into its own
// memory (pre-packing, constant folding of a transposed weight, a Cast). A copy shows as anonymous
// memory about the size of the weights; the file mapping is what should grow. Measured on a 76 MB
// Llama-shaped model (the fixture at hidden 768, random weights) with two generator sessions in one
// process (Linux: /proc/self/status).

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { modelWithHidden } from '../helpers/models.ts';

const MB = 1 << 20;
const status = (): Record<string, number> =>
  Object.fromEntries(
    readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .filter((l) => /^(RssAnon|RssFile):/.test(l))
      .map((l) => [l.split(':')[0], (Number.parseInt(l.split(':')[1], 10) * 1024) / MB]),
  );

test('two generator sessions keep the weights in the file mapping, not in private memory', {
  skip: process.platform === 'linux' ? false : 'reads /proc/self/status (Linux only)',
}, async () => {
  const dir = modelWithHidden(768, { random: true });
  const weightsMb = statSync(join(dir, 'model.safetensors')).size / MB;
  const spec = loadModelSpec(dir);
  const before = status();
  for (let i = 0; i < 2; i++) {
    const gen = await Generator.load(spec);
    await gen.generate([[1, 5, 9, 200, 17]], { greedy: true, maxNewTokens: 3, eosTokenIds: [] });
  }
  const after = status();
  const anon = after.RssAnon - before.RssAnon;
  const file = after.RssFile - before.RssFile;
  // Each session costs some anonymous memory of its own (graph, arena), well under the weights;
  // a copied weight set would add ~76 MB per session.
  assert.ok(
    anon < 0.4 * weightsMb,
    `anonymous memory grew ${anon.toFixed(1)} MB for ${weightsMb.toFixed(0)} MB of weights`,
  );
  assert.ok(
    file > 0.6 * weightsMb,
    `file-backed memory grew only ${file.toFixed(1)} MB: weights not read from the file?`,
  );
});
