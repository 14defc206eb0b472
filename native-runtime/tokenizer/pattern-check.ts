// The regular expressions a tokenizer.json holds (Split pre-tokenizers, Replace normalizers and
// decoders) become JavaScript RegExps, and JavaScript's engine backtracks: a pattern like (a+)+$
// takes seconds on 26 characters and four times longer for every two more. Models come from anyone
// on the Hub, so a tokenizer whose pattern repeats a group that itself repeats is refused when it is
// loaded. This is the cheap first line only: other patterns (overlapping alternatives such as
// (a|a)*$) backtrack too, and no check short of running them catches every one; the engine
// processes bound each tokenization in time (tokenize-watchdog.ts).
// The pre-tokenizer patterns of GPT-2, Llama 3, Qwen, DeepSeek and o200k-style tokenizers repeat
// single characters or classes, or make a group optional with `?`, and pass.

/** Whether `pattern` repeats (`*`, `+`, `{n,}`, `{n,m}` with m ≥ 2) a group that holds a repetition. */
export function repeatsRepetition(pattern: string): boolean {
  // For each open group: whether something inside it repeats.
  const open: boolean[] = [];
  let repeatsInside = false; // in the innermost group (or the whole pattern) so far
  let lastGroupRepeats = false; // the group that just closed held a repetition
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const afterGroup = lastGroupRepeats;
    lastGroupRepeats = false;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A character class: nothing in it groups or repeats.
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (c === '(') {
      open.push(repeatsInside);
      repeatsInside = false;
      continue;
    }
    if (c === ')') {
      if (open.length === 0) continue; // unbalanced: the RegExp itself will say so
      lastGroupRepeats = repeatsInside;
      repeatsInside = (open.pop() as boolean) || repeatsInside;
      continue;
    }
    const q = repetition(pattern, i);
    if (q === 0) continue;
    if (afterGroup) return true;
    repeatsInside = true;
    i += q - 1;
    // A lazy or possessive marker after the quantifier belongs to it.
    if (pattern[i + 1] === '?' || pattern[i + 1] === '+') i++;
  }
  return false;
}

/** The length of a repeating quantifier starting at `i` (0: none there, or `?`/{0,1}). */
function repetition(p: string, i: number): number {
  if (p[i] === '*' || p[i] === '+') return 1;
  if (p[i] !== '{') return 0;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
  if (!m) return 0;
  const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
  return max >= 2 ? m[0].length : 0;
}

/**
 * Where tokenizer.json holds a pattern that repeats a repetition (e.g. 'pre_tokenizer.pretokenizers[0]'),
 * or null. Looks through the parts that run patterns on text: normalizer, pre_tokenizer, decoder.
 */
export function backtrackingPattern(tokenizerJson: Record<string, unknown>): string | null {
  for (const part of ['normalizer', 'pre_tokenizer', 'decoder'])
    for (const [where, regex] of regexes(tokenizerJson[part], part))
      if (repeatsRepetition(regex)) return where;
  return null;
}

/** Every `pattern: {Regex}` under `node`, with where it is (Sequences nest). */
function* regexes(node: unknown, where: string): Generator<[string, string]> {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) yield* regexes(n, `${where}[${i}]`);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'pattern' && v && typeof (v as { Regex?: unknown }).Regex === 'string')
      yield [where, (v as { Regex: string }).Regex];
    else if (v && typeof v === 'object') yield* regexes(v, `${where}.${k}`);
  }
}
