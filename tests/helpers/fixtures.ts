// Paths and comparison helpers for the golden fixtures (copied from ../shared/fixtures so tests run
// from a fresh clone).

import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
export const MODELS = join(FIXTURES, 'models');
export const REFT = join(FIXTURES, 'reft');
export const MODEL_ARCHS = readdirSync(MODELS).sort();
export const REFT_CASES = readdirSync(REFT).sort();

export const modelDir = (arch: string): string => join(MODELS, arch);

/** A model folder `dir` with fixture `from`'s files linked and its config.json edited. */
export function modelVariant(dir: string, from: string, edit: (c: Record<string, unknown>) => void): string {
  const src = modelDir(from);
  mkdirSync(dir);
  for (const f of readdirSync(src)) if (f !== 'config.json') symlinkSync(join(src, f), join(dir, f));
  const c = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  return dir;
}

/** Qwen2 with layer 2 of 3 windowed over 4 tokens (from max_window_layers; layer_types removed). */
export const qwenMixedWindow = (dir: string): string =>
  modelVariant(dir, 'qwen2', (c) => {
    c.use_sliding_window = true;
    c.sliding_window = 4;
    c.max_window_layers = 2;
    delete c.layer_types;
  });

export interface ReftCaseMeta {
  arch: string;
  intervention: string;
  layers: number[];
  expanded_layers?: number[];
  positions: string;
  share_weights: boolean;
  rank: number;
  steps: number;
  lr: number;
  act_fn: string | null;
  keys: string[];
  losses: number[];
  loss0: number;
  loss_final: number;
}

export function reftMeta(name: string): ReftCaseMeta {
  return JSON.parse(readFileSync(join(REFT, name, 'golden_reft.json'), 'utf8'));
}

/** Max |a − b| over rows whose mask is 1; rows of `width` values. */
export function maxAbsDiffMasked(
  a: Float32Array,
  b: Float32Array,
  mask: BigInt64Array | null,
  width: number,
): number {
  let e = 0;
  for (let i = 0; i * width < a.length; i++) {
    if (mask && mask[i] !== 1n) continue;
    for (let j = 0; j < width; j++) e = Math.max(e, Math.abs(a[i * width + j] - b[i * width + j]));
  }
  return e;
}

/** Max relative error ‖a − b‖∞ / max(‖b‖∞, tiny). */
export function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}
