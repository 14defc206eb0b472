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

export interface FindDuplicatesOptions {
  threshold?: number;
  maxPairs?: number;
  /** Search near-duplicates too (default true); exact groups alone are a single hashing pass. */
  near?: boolean;
}

export function findDuplicates(texts: readonly string[], opts: FindDuplicatesOptions = {}): DuplicateReport {
  const threshold = opts.threshold ?? 0.9;
  const maxPairs = opts.maxPairs ?? 10_000;
  const norm = texts.map(normalizeText);
  // Exact: group by normalised text.
  const first = new Map<string, number>();
  const exact: DuplicatePair[] = [];
  const reps: number[] = [];
  let groups = 0;
  let truncated = false;
  const counted = new Set<string>();
  norm.forEach((t, i) => {
    const f = first.get(t);
    if (f === undefined) {
      first.set(t, i);
      reps.push(i);
      return;
    }
    if (!counted.has(t)) {
      counted.add(t);
      groups++;
    }
    if (exact.length < maxPairs) exact.push({ a: f, b: i, similarity: 1 });
    else truncated = true;
  });
  if (opts.near === false) return { exact, near: [], exactGroups: groups, truncated };
  // Near: prefix filtering over one representative per exact group.
  const sets = reps.map((i) => ({ i, grams: [...shingles(norm[i])] }));
  const freq = new Map<number, number>();
  for (const s of sets) for (const g of s.grams) freq.set(g, (freq.get(g) ?? 0) + 1);
  for (const s of sets) s.grams.sort((x, y) => (freq.get(x) ?? 0) - (freq.get(y) ?? 0) || x - y);
  sets.sort((x, y) => x.grams.length - y.grams.length || x.i - y.i);
  const index = new Map<number, number[]>(); // gram → positions in `sets` (ascending size)
  const near: DuplicatePair[] = [];
  const lookup = sets.map((s) => new Set(s.grams));
  for (let k = 0; k < sets.length; k++) {
    const A = sets[k].grams;
    if (!A.length) continue;
    const prefix = A.length - Math.ceil(threshold * A.length) + 1;
    const candidates = new Set<number>();
    for (let p = 0; p < prefix; p++) {
      for (const other of index.get(A[p]) ?? []) {
        if (sets[other].grams.length >= threshold * A.length) candidates.add(other);
      }
    }
    for (const other of candidates) {
      const j = jaccard(lookup[k], lookup[other]);
      if (j < threshold) continue;
      const a = Math.min(sets[k].i, sets[other].i);
      const b = Math.max(sets[k].i, sets[other].i);
      if (near.length < maxPairs) near.push({ a, b, similarity: j });
      else truncated = true;
    }
    for (let p = 0; p < prefix; p++) {
      const list = index.get(A[p]);
      if (list) list.push(k);
      else index.set(A[p], [k]);
    }
  }
  near.sort((p, q) => p.a - q.a || p.b - q.b);
  return { exact, near, exactGroups: groups, truncated };
}
