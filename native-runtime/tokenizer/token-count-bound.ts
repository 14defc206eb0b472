// A lower bound on how many tokens a text encodes to, from its length alone, for the tokenizers where
// one provably holds: byte-level BPE (GPT-2, Llama 3, Qwen, Phi-3, …) with no normalizer. There
// @huggingface/tokenizers cuts the text at added tokens (each one token; lstrip/rstrip drop only
// whitespace next to them), maps every byte of the rest to one character (ByteLevel) and splits it
// into words without losing any (Split patterns that keep what they match), and BPE turns each word
// into vocabulary entries whose concatenation is the word. So each non-whitespace byte of the text
// lands in exactly one token, and a text of B such bytes takes at least ⌈B / W⌉ tokens, W the most
// non-whitespace bytes one vocabulary entry or added token holds (the post-processor only adds).
// The run's row rule needs only "2 tokens or more" of a prompt (run-rows.ts): this settles it for
// any prompt longer than one token can be, without tokenizing it.
// Leaves out (no bound: 0): normalizers (one may delete characters), other models (WordPiece and
// Unigram turn a whole unknown word into one token), fused unknowns, word suffixes, a vocabulary
// missing a byte or a merge's result (BPE would drop that piece), Split patterns that remove text.

type Json = Record<string, unknown>;

/** GPT-2's bytes_to_unicode: the character ByteLevel writes for each byte. */
function byteLevelChars(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return chars;
}

const BYTE_CHARS = byteLevelChars();
/** ByteLevel's characters of the ASCII whitespace bytes (\t \n \v \f \r and space). */
const WHITESPACE_BYTE_CHARS = new Set([9, 10, 11, 12, 13, 32].map((b) => BYTE_CHARS[b]));

/** The characters JavaScript's \s and trim() take as whitespace, beyond ASCII's. */
const WIDE_WHITESPACE = new Set([
  0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

/**
 * Bytes of `text` outside its whitespace characters (UTF-8; a lone surrogate as U+FFFD), counted up
 * to `enough` at most: a caller that needs only "this many" stops reading a long text there.
 */
export function nonWhitespaceBytes(text: string, enough = Number.POSITIVE_INFINITY): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes < enough; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += (c >= 9 && c <= 13) || c === 32 ? 0 : 1;
    else if (c < 0x800) bytes += c === 0xa0 ? 0 : 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one character beyond the BMP
      i++;
    } else bytes += WIDE_WHITESPACE.has(c) ? 0 : 3;
  }
  return bytes;
}

/**
 * The most non-whitespace bytes of text one token of `s` can hold: counted both as byte-level
 * characters (a vocabulary entry) and as raw text (an added token), whichever is more.
 */
function tokenWeight(s: string): number {
  let chars = 0;
  for (const c of s) if (!WHITESPACE_BYTE_CHARS.has(c)) chars++;
  return Math.max(chars, nonWhitespaceBytes(s));
}

/** Whether a pre-tokenizer keeps every character and maps them to bytes (ByteLevel). */
function byteLevelLossless(pre: Json | null | undefined): boolean {
  if (!pre) return false;
  const steps = pre.type === 'Sequence' ? (pre.pretokenizers as Json[] | undefined) : [pre];
  if (!Array.isArray(steps) || !steps.some((s) => s?.type === 'ByteLevel')) return false;
  return steps.every((s) => {
    if (s?.type === 'ByteLevel') return true;
    if (s?.type !== 'Split') return false;
    const pattern = s.pattern as Json | undefined;
    const behavior = String(s.behavior ?? '').toLowerCase();
    return (
      !s.invert && behavior !== 'removed' && (pattern?.Regex !== undefined || pattern?.String !== undefined)
    );
  });
}

/**
 * W, the most non-whitespace bytes one token of this tokenizer holds, or null where no bound holds
 * (see the header). `config` is tokenizer_config.json's (two of its flags rewrite text).
 */
export function bytesPerTokenBound(tokenizerJson: Json, config: Json): number | null {
  if (config.remove_space === true || config.do_lowercase_and_remove_accent === true) return null;
  if (tokenizerJson.normalizer != null || !byteLevelLossless(tokenizerJson.pre_tokenizer as Json))
    return null;
  const model = tokenizerJson.model as Json | undefined;
  if (model?.type !== 'BPE' || model.fuse_unk || model.end_of_word_suffix || model.continuing_subword_suffix)
    return null;
  const vocab = model.vocab as Record<string, number> | undefined;
  const merges = model.merges as Array<string | [string, string]> | undefined;
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab) || !Array.isArray(merges)) return null;
  const has = (t: string) => Object.hasOwn(vocab, t);
  if (!BYTE_CHARS.every(has)) return null;
  for (const m of merges) {
    const [a, b] = typeof m === 'string' ? m.split(' ', 2) : m;
    if (!has(`${a}${b}`)) return null;
  }
  let w = 0;
  for (const t of Object.keys(vocab)) w = Math.max(w, tokenWeight(t));
  const added = (tokenizerJson.added_tokens ?? []) as Array<{ content?: unknown }>;
  for (const t of added) if (typeof t.content === 'string') w = Math.max(w, tokenWeight(t.content));
  return w > 0 ? w : null;
}
