// scripts/gpu/fused-decode.ts, the GPU check's measurement of a fused decode step, kept working on
// the CPU: ORT's GroupQueryAttention (rotary inside, the cache as past/present) and
// SkipSimplifiedLayerNormalization give the generator's greedy tokens, with ~4× fewer nodes a token.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { modelDir } from '../helpers/fixtures.ts';

const SCRIPT = new URL('../../scripts/gpu/fused-decode.ts', import.meta.url).pathname;

for (const name of ['llama', 'qwen2']) {
  test(`${name}: the fused step decodes the generator's greedy tokens`, () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', SCRIPT, modelDir(name), 'cpu', 'fp32', '16'],
      {
        encoding: 'utf8',
      },
    );
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}');
    assert.equal(r.device, 'cpu');
    for (const chunk of ['c1', 'c8']) assert.equal(r.engine[chunk].same_tokens_as_fused, 16, chunk);
    assert.ok(r.fused_nodes * 3 < r.engine_loop_nodes, `${r.fused_nodes} vs ${r.engine_loop_nodes} nodes`);
    assert.ok(r.fused_tokens_per_s > 0);
  });
}

test('models it does not cover are refused in one line', () => {
  assert.throws(
    () =>
      execFileSync(process.execPath, ['--import', 'tsx', SCRIPT, modelDir('gemma'), 'cpu', 'fp32', '4'], {
        encoding: 'utf8',
        stdio: 'pipe',
      }),
    /llama-shaped models/,
  );
});
