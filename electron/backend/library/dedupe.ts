// Duplicate detection for dataset rows.
//   exact  the same text after normalisation (Unicode NFKC, lower case, punctuation dropped,
//          whitespace collapsed), found by hashing
//   near   Jaccard similarity of character 5-gram sets ≥ threshold (default 0.9), found exactly (no
//          missed pair, none below the threshold) with prefix filtering (AllPairs, Bayardo et al.
//          2007): order every set's grams rarest first; two sets with J ≥ t share a gram among the
//          first |A| − ⌈t·|A|⌉ + 1 of each, so an inverted index over those prefixes gives the
//          candidates, a size filter (|B| ≥ t·|A|) prunes them, and the exact Jaccard decides.
//          Templated rows ("Question 12: …") stay cheap: their rare grams are what differs.
//          (MinHash/LSH was tried first: on templated data nearly every pair became a candidate.)
// Each exact group is represented by its first row in the near search. Its cost grows with the rows'
// length and count (16 s for 100,000 short rows on a 2-core EPYC), so the studio runs it in the
// engine's 'files' worker, never on the RPC loop. Pairs are (a, b) with a < b,
// row indices; at most `maxPairs` are reported (the count is always exact for exact duplicates).
// Texts come one at a time (a version's file is streamed) and none is kept: the exact search keeps
// a 16-byte hash per distinct text, the near search each representative's 5-gram hashes, sorted,
// in a Uint32Array (4 bytes a gram; a Set of them took ~10 times that).

import { createHash } from 'node:crypto';
import { rowText } from './dataset-formats.ts';
import { frozenRows } from './frozen-files.ts';

export interface DuplicatePair {
  a: number;
  b: number;
  similarity: number;
}

export interface DuplicateReport {
  exact: DuplicatePair[];
  near: DuplicatePair[];
  exactGroups: number;
  truncated: boolean;
}

export function normalizeText(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const K = 5;

/** Character K-gram hashes of a normalised text (the whole text when shorter than K). */
export function shingles(norm: string): Set<number> {
  const out = new Set<number>();
  if (norm.length <= K) {
    if (norm) out.add(fnv1a(norm));
    return out;
  }
  for (let i = 0; i + K <= norm.length; i++) out.add(fnv1a(norm.slice(i, i + K)));
  return out;
}

export function jaccard(a: Set<number>, b: Set<number>): number {
  if (!a.size && !b.size) return 1;
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (big.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Jaccard similarity of two gram sets given as ascending arrays (what the near search keeps). */
function sortedJaccard(a: Uint32Array, b: Uint32Array): number {
  if (!a.length && !b.length) return 1;
  let inter = 0;
  for (let p = 0, q = 0; p < a.length && q < b.length; ) {
    if (a[p] === b[q]) {
      inter++;
      p++;
      q++;
    } else if (a[p] < b[q]) p++;
    else q++;
  }
  return inter / (a.length + b.length - inter);
}

/** What identifies a normalised text in the exact search: 16 bytes of its SHA-256. */
function textKey(norm: string): string {
  return createHash('sha256').update(norm).digest().toString('latin1', 0, 16);
}

export interface FindDuplicatesOptions {
  threshold?: number;
  maxPairs?: number;
  /** Search near-duplicates too (default true); exact groups alone are a single hashing pass. */
  near?: boolean;
}

export function findDuplicates(texts: Iterable<string>, opts: FindDuplicatesOptions = {}): DuplicateReport {
  const threshold = opts.threshold ?? 0.9;
  const maxPairs = opts.maxPairs ?? 10_000;
  // Exact: group by normalised text. Each group's first row represents it in the near search.
  const first = new Map<string, number>();
  const exact: DuplicatePair[] = [];
  const sets: { i: number; grams: Uint32Array }[] = [];
  const counted = new Set<number>();
  let truncated = false;
  let i = 0;
  for (const text of texts) {
    const t = normalizeText(text);
    const key = textKey(t);
    const f = first.get(key);
    if (f === undefined) {
      first.set(key, i);
      if (opts.near !== false) sets.push({ i, grams: Uint32Array.from(shingles(t)).sort() });
    } else {
      counted.add(f);
      if (exact.length < maxPairs) exact.push({ a: f, b: i, similarity: 1 });
      else truncated = true;
    }
    i++;
  }
  const groups = counted.size;
  if (opts.near === false) return { exact, near: [], exactGroups: groups, truncated };
  // Near: prefix filtering over the representatives, each set's grams taken rarest first.
  const freq = new Map<number, number>();
  for (const s of sets) for (const g of s.grams) freq.set(g, (freq.get(g) ?? 0) + 1);
  const rarestFirst = (x: number, y: number) => (freq.get(x) ?? 0) - (freq.get(y) ?? 0) || x - y;
  sets.sort((x, y) => x.grams.length - y.grams.length || x.i - y.i);
  const index = new Map<number, number[]>(); // gram → positions in `sets` (ascending size)
  const near: DuplicatePair[] = [];
  for (let k = 0; k < sets.length; k++) {
    const size = sets[k].grams.length;
    if (!size) continue;
    const prefix = size - Math.ceil(threshold * size) + 1;
    const A = sets[k].grams.slice().sort(rarestFirst).subarray(0, prefix);
    const candidates = new Set<number>();
    for (const g of A) {
      for (const other of index.get(g) ?? []) {
        if (sets[other].grams.length >= threshold * size) candidates.add(other);
      }
    }
    for (const other of candidates) {
      const j = sortedJaccard(sets[k].grams, sets[other].grams);
      if (j < threshold) continue;
      const a = Math.min(sets[k].i, sets[other].i);
      const b = Math.max(sets[k].i, sets[other].i);
      if (near.length < maxPairs) near.push({ a, b, similarity: j });
      else truncated = true;
    }
    for (const g of A) {
      const list = index.get(g);
      if (list) list.push(k);
      else index.set(g, [k]);
    }
  }
  near.sort((p, q) => p.a - q.a || p.b - q.b);
  return { exact, near, exactGroups: groups, truncated };
}

/** findDuplicates over the rows of a version's frozen file (absolute path), streamed. */
export function findVersionDuplicates(filePath: string, opts: FindDuplicatesOptions = {}): DuplicateReport {
  return findDuplicates(
    (function* () {
      for (const row of frozenRows(filePath)) yield rowText(row);
    })(),
    opts,
  );
}
