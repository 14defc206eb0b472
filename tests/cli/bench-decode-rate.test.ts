// `bench decode`'s progress lines said ~600 tokens/s where its result said 132: the lines' rate was
// the progress reporter's own (Date.now in whole milliseconds, from when the first line was printed,
// over the last 5 s), the result the anchors' decode rate (cached steps after the prefill token,
// per token). Now both come from the same clock readings, so the last line (with --json, the last
// count event) states the result.
// A real CLI run on the smallest fixture, 4 new tokens (3 cached steps, a few milliseconds: where a
// different definition or clock shows most).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LLAMA_FIXTURE, runCli, tempDir } from '../backend/helpers.ts';
import { onlyEvents } from './json-stream.ts';

test('bench decode: the last progress event states the rate the result reports', async () => {
  const r = await runCli([
    'bench',
    'decode',
    '--model',
    LLAMA_FIXTURE,
    '--prompt',
    '4',
    '--new-tokens',
    '4',
    '--json',
    '--data-dir',
    tempDir('bench-rate-'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  // With --json the progress is count events, every stderr line one; the last states the rate.
  const last = onlyEvents(r.stderr)
    .filter((e) => e.event === 'progress')
    .at(-1);
  assert.ok(last && last.done === 4 && last.total === 4, `no last progress event in:\n${r.stderr}`);
  // Counting the prefill token, or all 4 tokens, or whole milliseconds over ~10 ms would be off by
  // 10% or more.
  assert.ok(
    Math.abs(last.perS - result.tokens_per_s) <= 0.01 * result.tokens_per_s,
    `progress ${last.perS} tokens/s, result ${result.tokens_per_s}`,
  );
});
