// The GPU check's per-stage summary (scripts/gpu/summary.mjs): the one place the device call's
// figures and the engine's fallbacks and decisions arrive when the stage's files do not. A stage
// folder written here as gpu-check.sh writes it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/temp.ts';

const SUMMARY = fileURLToPath(new URL('../../scripts/gpu/summary.mjs', import.meta.url));

test('a line per step: bench figures, generate and test results, notices and the engine’s decisions', () => {
  const dir = tempDir('gpu-summary-');
  const steps = [
    ['decode-1b-bf16-cuda', '0', '12s', 'bench decode'],
    ['generate-bf16-auto-int8-cuda', '0', '3s', 'generate'],
    ['train-bf16-auto-int8-cuda', '1', '2s', 'train'],
    ['half-cuda', '1', '40s', 'node --test'],
  ];
  writeFileSync(join(dir, 'steps.tsv'), `${steps.map((r) => r.join('\t')).join('\n')}\n`);
  writeFileSync(
    join(dir, 'decode-1b-bf16-cuda.json'),
    `${JSON.stringify({ tokens_per_s: 512.34, peak_gpu_mb: 3072, device: 'cuda', dtype: 'bf16', us_per_node: 6.1, decode_loop_nodes: 289, decode_step: 'fused' })}\n`,
  );
  writeFileSync(
    join(dir, 'generate-bf16-auto-int8-cuda.json'),
    `${JSON.stringify({ text: 'hi', tokens: [1, 2, 3], device: 'cuda', tokensPerRun: 16, step: 'fused', decodeTokensPerSecond: 301.2 })}\n`,
  );
  writeFileSync(
    join(dir, 'generate-bf16-auto-int8-cuda.err'),
    "base weights: int8 (automatic): in bfloat16 they would take 16.1 GB of this GPU's 12.9 GB\ncomputing in bfloat16 (norms, softmax, the loss and interventions in float32)\n",
  );
  writeFileSync(
    join(dir, 'train-bf16-auto-int8-cuda.json'),
    [
      {
        event: 'log',
        message: "base weights: int8 (automatic): in bfloat16 they would take 16.1 GB of this GPU's 12.9 GB",
      },
      { event: 'log', message: 'the fused decoding step did not run (x); decoding with the general decoder' },
      { error: { code: 'run-failed', message: 'CUDA out of memory' } },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n'),
  );
  writeFileSync(
    join(dir, 'half-cuda.txt'),
    'ℹ tests 12\nℹ pass 11\nℹ fail 1\nℹ skipped 0\n  ✖ over int8 codes: LoReFT loss (12.5ms)\n',
  );
  const r = spawnSync(process.execPath, [SUMMARY, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const line = (name: string) => r.stdout.split('\n').find((l) => l.trim().startsWith(name)) ?? '';
  assert.match(r.stdout, /4 steps, 2 failed/);
  assert.match(
    line('decode-1b-bf16-cuda'),
    /512\.3 tok\/s · GPU 3\.0 GB · cuda bf16 · 6\.1 µs a node \(289 a token, fused step\)/,
  );
  assert.match(
    line('generate-bf16-auto-int8-cuda'),
    /3 tokens · cuda · 16 a run · fused step · 301\.2 tok\/s/,
  );
  assert.match(
    line('generate-bf16-auto-int8-cuda'),
    /base weights: int8 \(automatic\)[^;]*; computing in bfloat16/,
  );
  assert.match(
    line('train-bf16-auto-int8-cuda'),
    /^\s*train-bf16-auto-int8-cuda\s+rc 1 .*error run-failed: CUDA out of memory/,
  );
  assert.match(line('train-bf16-auto-int8-cuda'), /NOTICE .*fused decoding step did not run/);
  assert.match(line('train-bf16-auto-int8-cuda'), /base weights: int8 \(automatic\)/);
  assert.match(line('half-cuda'), /tests 12 pass 11 fail 1 skipped 0; failing: over int8 codes: LoReFT loss/);
});
