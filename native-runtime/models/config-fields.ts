// Typed, bounded reads of config.json-style objects: every failure is a FormatError naming the file
// and the field, and every integer has an upper bound, so a hostile or corrupted config.json
// ("num_hidden_layers": 1000000000) is refused with a clear message before anything is sized by it.
// Keys are looked up as own properties only (a key named "constructor" is just a missing key).
// Leaves out: which fields a model needs (config.ts) and the bounds themselves (CONFIG_LIMITS).

import { FormatError } from '../errors.ts';

export type Json = Record<string, unknown>;

/**
 * Upper bounds on config.json numbers: far above any released model (the largest have hidden size
 * 25,600, 160 layers, 262k vocabulary, 10M positions) and far below what would exhaust memory when
 * a shape or a list is sized by them.
 */
export const CONFIG_LIMITS = {
  hiddenSize: 1 << 17,
  numLayers: 1 << 12,
  numHeads: 1 << 12,
  headDim: 1 << 12,
  intermediateSize: 1 << 20,
  vocabSize: 1 << 22,
  positions: 1 << 24,
  /** generation_config max_new_tokens and other token counts */
  tokens: 1 << 24,
  /** token ids (bos/eos/pad) must fit a vocabulary */
  tokenId: 1 << 22,
  /** eos_token_id lists */
  listLength: 1024,
} as const;

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

export class Fields {
  constructor(
    readonly obj: Json,
    readonly file: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== undefined && this.obj[key] !== null;
  }

  get(key: string): unknown {
    return Object.hasOwn(this.obj, key) ? this.obj[key] : undefined;
  }

  /** A positive integer ≤ max that must be present (under `key` or one of its aliases). */
  int(max: number, key: string, ...aliases: string[]): number {
    for (const k of [key, ...aliases]) if (this.has(k)) return this.checkInt(k, this.obj[k], max);
    throw new FormatError('missing-field', `${this.file}: required field ${key} is missing`);
  }

  optInt(max: number, key: string, ...aliases: string[]): number | undefined {
    for (const k of [key, ...aliases]) if (this.has(k)) return this.checkInt(k, this.obj[k], max);
    return undefined;
  }

  num(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new FormatError('bad-field', `${this.file}: ${key} must be a number, got ${show(v)}`);
    return v;
  }

  optNum(key: string): number | undefined {
    return this.has(key) ? this.num(key, 0) : undefined;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const v = this.obj[key];
    if (typeof v !== 'boolean')
      throw new FormatError('bad-field', `${this.file}: ${key} must be true or false, got ${show(v)}`);
    return v;
  }

  str(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (typeof v !== 'string')
      throw new FormatError('bad-field', `${this.file}: ${key} must be a string, got ${show(v)}`);
    return v;
  }

  /** A nested object, or null when absent. */
  object(key: string): Fields | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    if (typeof v !== 'object' || Array.isArray(v))
      throw new FormatError('bad-field', `${this.file}: ${key} must be an object`);
    return new Fields(v as Json, `${this.file} ${key}`);
  }

  /** A token id: a non-negative integer or null. */
  tokenId(key: string): number | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    // Some configs store a list for bos/pad as well; the first entry is the one used for prompts.
    const x = Array.isArray(v) ? v[0] : v;
    if (x === undefined) return null;
    if (!isTokenId(x))
      throw new FormatError('bad-field', `${this.file}: ${key} must be a token id, got ${show(v)}`);
    return x;
  }

  /** eos_token_id: a number, a list of numbers, or null. */
  tokenIds(key: string): number[] | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    const list = Array.isArray(v) ? v : [v];
    if (list.length > CONFIG_LIMITS.listLength || !list.every(isTokenId))
      throw new FormatError(
        'bad-field',
        `${this.file}: ${key} must be a token id or a list of them, got ${show(v)}`,
      );
    return [...new Set(list as number[])];
  }

  private checkInt(key: string, v: unknown, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new FormatError('bad-field', `${this.file}: ${key} must be a positive integer, got ${show(v)}`);
    if (v > max)
      throw new FormatError(
        'bad-field',
        `${this.file}: ${key}=${v} is out of range (at most ${max} is supported)`,
      );
    return v;
  }
}

function isTokenId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < CONFIG_LIMITS.tokenId;
}
