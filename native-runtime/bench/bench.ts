// Speed measurements behind `reft-studio bench` (cli.md): the same workloads as the PyTorch anchors
// (../shared/docs/anchors.md), random token ids from a fixed seed, one untimed warm-up, then timed
// steps. Peak RSS is the process's maximum resident set size, which includes the weights.

import { mulberry32 } from '../generation/sampling.ts';
import { Generator } from '../generation/generator.ts';
import type { ModelSpec } from '../models/config.ts';
import { loadForwardModel, runForward } from '../runtime/forward.ts';
import type { DeviceChoice } from '../runtime/session.ts';

export interface BenchResult {
  tokens_per_s: number;
  step_ms: number;
  peak_rss_mb: number;
  device: string;
  [k: string]: unknown;
}

export const peakRssMb = (): number => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;

export function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => 10 + Math.floor(rng() * (vocab - 10)));
}

export async function benchPrefill(spec: ModelSpec, o: { batch?: number; seq?: number; steps?: number; device?: DeviceChoice }): Promise<BenchResult> {
  const B = o.batch ?? 4, T = o.seq ?? 128, steps = o.steps ?? 3;
  const m = await loadForwardModel(spec, { device: o.device });
  const ids = BigInt64Array.from(randomIds(B * T, spec.vocabSize, 1), BigInt);
  const mask = new BigInt64Array(B * T).fill(1n);
  await runForward(m, ids, mask, [B, T]);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await runForward(m, ids, mask, [B, T]);
  const ms = (performance.now() - t0) / steps;
  return { tokens_per_s: (B * T) / (ms / 1000), step_ms: ms, peak_rss_mb: peakRssMb(), device: m.session.device, batch: B, seq: T };
}

export async function benchDecode(spec: ModelSpec, o: { prompt?: number; newTokens?: number; device?: DeviceChoice }): Promise<BenchResult> {
  const P = o.prompt ?? 32, N = o.newTokens ?? 64;
  const gen = await Generator.load(spec, { device: o.device });
  const prompt = randomIds(P, spec.vocabSize, 2);
  await gen.generate([prompt], { greedy: true, maxNewTokens: 4, eosTokenIds: [] });
  const r = await gen.generate([prompt], { greedy: true, maxNewTokens: N, eosTokenIds: [] });
  // The first new token comes from the prefill pass; decode speed counts the cached steps only.
  const decodeSteps = r.newTokens - 1;
  const ms = r.decodeMs / Math.max(1, decodeSteps);
  return { tokens_per_s: 1000 / ms, step_ms: ms, peak_rss_mb: peakRssMb(), device: gen.session.device, prompt: P, new_tokens: r.newTokens, prefill_ms: r.prefillMs };
}
