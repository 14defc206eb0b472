// A bf16 checkpoint on the CPU is used through one fp32 store in the data folder, memory-mapped:
// a training session and a playground session in one process (as the studio's two workers hold
// them) share it, so the process's resident memory grows by about one copy of the weights in that
// form, not one per session (the in-graph Cast it replaces made a private fp32 copy per session).
// Resident memory is counted as physical pages: private memory plus file pages counted once. (The
// process's RSS counts a file page once per mapping, and ONNX Runtime maps each initializer for
// each session, so RSS alone shows the shared weights twice though they occupy memory once.)
// Linux only (/proc/self/smaps). The model: the Llama shape at hidden 1024, 6 layers, bf16, random.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeSyntheticCheckpoint } from '../../native-runtime/bench/synthetic.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { interventionKey } from '../../native-runtime/interventions/kinds.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { STORE_FILE } from '../../native-runtime/quantize/store.ts';
import { createSession, ort, runSession } from '../../native-runtime/runtime/session.ts';
import { type InterventionState, ReftModel } from '../../native-runtime/training/reft-model.ts';
import { HouseholderParam } from '../../native-runtime/training/stiefel.ts';
import { tempDir } from '../helpers/temp.ts';

const MB = 2 ** 20;
/** Private resident memory plus file-backed resident pages with each file range counted once (MB). */
export function uniqueResidentMb(): number {
  let anon = 0;
  const fileRanges = new Map<string, number>();
  let key: string | null = null;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const [, off, inode, path] = head;
      key = inode !== '0' ? `${path}@${off}` : null;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      const kb = Number(rss[1]);
      if (key) fileRanges.set(key, Math.max(fileRanges.get(key) ?? 0, kb));
      else anon += kb;
    }
  }
  let file = 0;
  for (const kb of fileRanges.values()) file += kb;
  return ((anon + file) * 1024) / MB;
}
const resident = uniqueResidentMb;

function loreft(layer: number, n: number, r: number): InterventionState {
  const R = Float32Array.from({ length: n * r }, (_, i) => (i % (r + 1) === 0 ? 1 : 0));
  const rot = HouseholderParam.fromR(R, n, r);
  return {
    spec: {
      key: interventionKey(layer, 0),
      layer,
      type: 'loreft',
      rank: r,
      embedDim: n,
      act: 'linear',
      dropout: 0,
    },
    params: new Map([
      ['rotate_layer', { data: rot.forward(), shape: [n, r] }],
      ['weight', { data: new Float32Array(r * n).fill(0.01), shape: [r, n] }],
      ['bias', { data: new Float32Array(r), shape: [r] }],
    ]),
    rot,
  };
}

test('bf16 on the CPU: training + playground sessions hold ≤ 1.1× one fp32 copy of the weights', {
  skip: process.platform === 'linux' ? false : 'reads /proc/self/smaps (Linux only)',
}, async (t) => {
  const root = tempDir('reft-half-');
  const dir = join(root, 'model');
  await writeSyntheticCheckpoint('tinyllama-1.1b', dir, {
    dtype: 'bfloat16',
    overrides: {
      hidden_size: 1024,
      intermediate_size: 2816,
      num_hidden_layers: 6,
      vocab_size: 8000,
      num_attention_heads: 16,
    },
  });
  const spec = await prepareBase(loadModelSpec(dir), null, { dataDir: join(root, 'data') });
  assert.equal(spec.base?.form, 'fp32');
  const storeMb = statSync(join(spec.base!.dir!, STORE_FILE)).size / MB;
  // ORT's own code pages arrive with the first session: count from after one.
  const b = new GraphBuilder('warm');
  b.output(b.op('Identity', [b.input('x', 'float32', [1])]), 'y');
  const warm = await createSession(b.graph);
  await runSession(warm, { x: new ort.Tensor('float32', Float32Array.of(0), [1]) });
  const before = resident();

  const trainer = await ReftModel.load(spec, [loreft(2, 1024, 4), loreft(5, 1024, 4)]);
  const T = 16;
  const ids = BigInt64Array.from({ length: T }, (_, i) => BigInt(10 + i));
  const labels = ids.slice().fill(-100n, 0, 8);
  const loc = { data: BigInt64Array.of(3n), P: 1 };
  await trainer.lossAndGrads({
    inputIds: ids,
    attentionMask: new BigInt64Array(T).fill(1n),
    labels,
    dims: [1, T],
    locations: [loc, loc],
  });
  const playground = await Generator.load(spec);
  await playground.generate([[1, 5, 9, 200, 17]], { greedy: true, maxNewTokens: 4, eosTokenIds: [] });
  const grown = resident() - before;
  t.diagnostic(
    `fp32 store ${storeMb.toFixed(0)} MB; two sessions grew resident memory by ${grown.toFixed(0)} MB (${(grown / storeMb).toFixed(2)}×)`,
  );
  assert.ok(
    grown <= 1.1 * storeMb,
    `resident memory grew ${grown.toFixed(0)} MB for a ${storeMb.toFixed(0)} MB store`,
  );
  assert.ok(grown >= 0.5 * storeMb, `grew only ${grown.toFixed(0)} MB: were the weights read at all?`);
});
