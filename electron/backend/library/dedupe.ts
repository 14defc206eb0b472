// Duplicate detection for dataset rows.
//   exact  the same text after normalisation (Unicode NFKC, lower case, punctuation dropped,
//          whitespace collapsed), found by hashing
//   near   Jaccard similarity of character 5-gram sets ≥ threshold (default 0.9), found exactly (no
//          missed pair, none below the threshold) unless nearPartial says otherwise, with prefix
//          filtering (AllPairs, Bayardo et al. 2007): order every set's grams rarest first; two sets
//          with J ≥ t share a gram among the first |A| − ⌈t·|A|⌉ + 1 of each, so an inverted index
//          over those prefixes gives the candidates, a size filter (|B| ≥ t·|A|) prunes them, and
//          the exact Jaccard decides.
//          Templated rows ("Question 12: …") stay cheap: their rare grams are what differs.
//          (MinHash/LSH was tried first: on templated data nearly every pair became a candidate.)
//          Rows with no rare grams at all (drawn from a few dozen words) made it quadratic, so its
//          work is bounded (maxBucket, maxCandidates) and a search cut short says so (nearPartial).
// Each exact group is represented by its first row in the near search. Its cost grows with the rows'
// length and count (16 s for 100,000 short rows on a 2-core EPYC; 18 s for 100,000 rows of 100
// words from 30), so the studio runs it in the engine's 'files' worker, never on the RPC loop.
// Pairs are (a, b) with a < b, row indices; at most `maxPairs` are reported (the count is always
// exact for exact duplicates).
// Texts come one at a time (a version's file is streamed) and none is kept: the exact search keeps
// a 16-byte hash per distinct text, the near search each representative's 5-gram hashes, sorted,
// in a Uint32Array (4 bytes a gram; a Set of them took ~10 times that).

import { createHash } from 'node:crypto';
import { CancelledError } from '../../../native-runtime/errors.ts';
import { rowText } from './dataset-formats.ts';
import { frozenRows } from './frozen-files.ts';
import { runInSlices, runThrough } from './sliced-scans.ts';

export interface DuplicatePair {
  a: number;
  b: number;
  similarity: number;
}

/** What a near search left out to stay bounded (see FindDuplicatesOptions.maxBucket). */
export interface NearSearchPartial {
  /** Row pairs whose similarity was computed, of `candidatePairs` found through the grams kept. */
  comparedPairs: number;
  candidatePairs: number;
  /** Grams skipped: each was among the rarest grams of more than `maxBucket` rows. */
  skippedBuckets: number;
  maxBucket: number;
  maxCandidates: number;
  /** The above in one line for the user, e.g. "compared 98,372 of 1,587,568 candidate pairs; …". */
  note: string;
}

export interface DuplicateReport {
  exact: DuplicatePair[];
  near: DuplicatePair[];
  exactGroups: number;
  /** More pairs were found than `maxPairs`: the lists stop there. */
  truncated: boolean;
  /** Set when the near search skipped oversized buckets: pairs may be missing from `near`. */
  nearPartial: NearSearchPartial | null;
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
  /** A gram among the rarest of more rows than this is skipped by the near search (default 200). */
  maxBucket?: number;
  /** The near search compares a row with at most this many others (default 50). */
  maxCandidates?: number;
}

/**
 * Keeps the near search's work bounded by about maxBucket × (the rows' prefix grams): every row's
 * rarest grams are in far fewer rows on ordinary text, so nothing is skipped there.
 */
const DEFAULT_MAX_BUCKET = 200;
const DEFAULT_MAX_CANDIDATES = 50;

/** Rows between the points where a search may pause (see duplicateSearch). */
const ROWS_A_PAUSE = 1000;

export function findDuplicates(texts: Iterable<string>, opts: FindDuplicatesOptions = {}): DuplicateReport {
  return runThrough(duplicateSearch(texts, opts));
}

/**
 * findDuplicates, pausing for the event loop about every 50 ms so that `signal` can stop it (the
 * 'files' engine process learns of a cancel only between turns of its loop): stopped, it throws
 * CancelledError and keeps nothing.
 */
export async function findDuplicatesAsync(
  texts: Iterable<string>,
  opts: FindDuplicatesOptions,
  signal: AbortSignal,
): Promise<DuplicateReport> {
  return runInSlices(duplicateSearch(texts, opts), 50, () => {
    if (signal.aborted) throw new CancelledError('the duplicate search was cancelled');
  });
}

/** The search itself, yielding every ROWS_A_PAUSE rows of each pass: where a caller may pause. */
function* duplicateSearch(
  texts: Iterable<string>,
  opts: FindDuplicatesOptions,
): Generator<void, DuplicateReport> {
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
    if (++i % ROWS_A_PAUSE === 0) yield;
  }
  const groups = counted.size;
  if (opts.near === false) return { exact, near: [], exactGroups: groups, truncated, nearPartial: null };
  // Near: prefix filtering over the representatives, each set's grams taken rarest first. A gram's
  // rank (rarest first, ties by value) stands for it from here: ranks sort natively, and index arrays.
  const freq = new Map<number, number>();
  for (const [k, s] of sets.entries()) {
    for (const g of s.grams) freq.set(g, (freq.get(g) ?? 0) + 1);
    if (k % ROWS_A_PAUSE === 0) yield;
  }
  const byRarity = [...freq.keys()].sort((x, y) => (freq.get(x) ?? 0) - (freq.get(y) ?? 0) || x - y);
  const rank = new Map<number, number>(byRarity.map((g, r) => [g, r]));
  sets.sort((x, y) => x.grams.length - y.grams.length || x.i - y.i);
  const prefixes: Uint32Array[] = [];
  for (const { grams } of sets) {
    prefixes.push(
      grams
        .map((g) => rank.get(g) ?? 0)
        .sort()
        .slice(0, grams.length - Math.ceil(threshold * grams.length) + 1),
    );
    if (prefixes.length % ROWS_A_PAUSE === 0) yield;
  }
  // Bounds on the work (repetitive rows, e.g. instructions from a few templates, made it quadratic:
  // there even a row's rarest grams are in most rows, and every pair became a candidate):
  //   a gram in more than maxBucket rows' prefixes is skipped, as MinHash-LSH skips oversized
  //   buckets: it tells rows apart no better than a stopword;
  //   a row is compared with at most maxCandidates earlier rows, those sharing the most prefix
  //   grams (the likeliest to be alike).
  // What that leaves out is reported (nearPartial); ordinary text stays far below both.
  const maxBucket = opts.maxBucket ?? DEFAULT_MAX_BUCKET;
  const maxCandidates = opts.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  const bucket = new Uint32Array(byRarity.length); // rank → rows with it in their prefix
  for (const A of prefixes) for (const r of A) bucket[r]++;
  let skippedBuckets = 0;
  for (const n of bucket) if (n > maxBucket) skippedBuckets++;
  const index: number[][] = byRarity.map(() => []); // rank → positions in `sets` (ascending size)
  const near: DuplicatePair[] = [];
  const shared = new Uint32Array(sets.length); // prefix grams a candidate shares with row k
  let candidatePairs = 0;
  let comparedPairs = 0;
  for (let k = 0; k < sets.length; k++) {
    if (k % ROWS_A_PAUSE === 0) yield;
    const size = sets[k].grams.length;
    if (!size) continue;
    const A = prefixes[k].filter((r) => bucket[r] <= maxBucket);
    const met: number[] = []; // candidates in the order first met
    for (const r of A) {
      for (const other of index[r]) {
        if (sets[other].grams.length < threshold * size) continue;
        if (!shared[other]++) met.push(other);
      }
    }
    candidatePairs += met.length;
    const candidates =
      met.length > maxCandidates
        ? met
            .slice()
            .sort((x, y) => shared[y] - shared[x] || x - y)
            .slice(0, maxCandidates)
        : met;
    for (const other of met) shared[other] = 0;
    comparedPairs += candidates.length;
    for (const other of candidates) {
      const j = sortedJaccard(sets[k].grams, sets[other].grams);
      if (j < threshold) continue;
      const a = Math.min(sets[k].i, sets[other].i);
      const b = Math.max(sets[k].i, sets[other].i);
      if (near.length < maxPairs) near.push({ a, b, similarity: j });
      else truncated = true;
    }
    for (const r of A) index[r].push(k);
  }
  const partial =
    skippedBuckets || comparedPairs < candidatePairs
      ? {
          comparedPairs,
          candidatePairs,
          skippedBuckets,
          maxBucket,
          maxCandidates,
          note: partialNote(comparedPairs, candidatePairs, skippedBuckets, maxBucket, maxCandidates),
        }
      : null;
  near.sort((p, q) => p.a - q.a || p.b - q.b);
  return { exact, near, exactGroups: groups, truncated, nearPartial: partial };
}

function partialNote(
  compared: number,
  candidates: number,
  skipped: number,
  maxBucket: number,
  maxCandidates: number,
): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const capped = compared < candidates ? ` (at most ${maxCandidates} a row)` : '';
  const buckets = skipped ? `; ${n(skipped)} 5-grams found in over ${maxBucket} rows skipped` : '';
  return `near search cut short: compared ${n(compared)} of ${n(candidates)} candidate pairs${capped}${buckets}`;
}

function* versionTexts(filePath: string): Generator<string> {
  for (const row of frozenRows(filePath)) yield rowText(row);
}

/** findDuplicates over the rows of a version's frozen file (absolute path), streamed. */
export function findVersionDuplicates(filePath: string, opts: FindDuplicatesOptions = {}): DuplicateReport {
  return findDuplicates(versionTexts(filePath), opts);
}

/** findVersionDuplicates that `signal` stops (findDuplicatesAsync): the 'files' engine's. */
export function findVersionDuplicatesAsync(
  filePath: string,
  opts: FindDuplicatesOptions,
  signal: AbortSignal,
): Promise<DuplicateReport> {
  return findDuplicatesAsync(versionTexts(filePath), opts, signal);
}
