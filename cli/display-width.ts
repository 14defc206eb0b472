// How many terminal columns text takes, and text cut to a number of columns: what the CLI's tables
// line up by. A character is not a column: a CJK character or an emoji takes two, a combining accent
// none, and a family emoji is seven code points (four people joined by ZWJ) shown as one two-column
// picture. So text is measured by grapheme clusters (Intl.Segmenter, what a terminal draws as one
// character) and a cut falls between two of them, never inside an emoji or a surrogate pair.
//
// The string-width package in node_modules (4.2.3, cli-progress's) was not used: its emoji list is
// from 2019, so it measures a newer ZWJ sequence such as 🧑‍💻 as 5 columns and 🫠 as 1. The emoji
// rules below are the JavaScript engine's own Unicode properties instead, which keep up with Node.

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Drawn as a two-column picture: an emoji shown as emoji (by default, or asked by U+FE0F, a skin tone or a ZWJ). */
const EMOJI = /^\p{Emoji_Presentation}|^\p{Extended_Pictographic}.*(?:\uFE0F|\u200D|\p{Emoji_Modifier})/su;
/** A flag (two regional indicators) or a keycap (1️⃣): two columns, though made of narrow characters. */
const FLAG_OR_KEYCAP = /^\p{Regional_Indicator}|\u20E3/u;
/** Takes no column of its own: a combining mark with nothing before it, a format or ignorable character, a control. */
const ZERO = /^[\p{Mn}\p{Me}\p{Cc}\p{Default_Ignorable_Code_Point}]/u;

/**
 * East Asian Wide and Fullwidth characters (Unicode's EastAsianWidth.txt, W and F), in the blocks that
 * hold nearly all of them: Hangul, CJK ideographs, kana, fullwidth forms. Emoji, also W, are EMOJI's.
 */
const WIDE: Array<[number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x18cff], // Tangut, Khitan
  [0x1b000, 0x1b2ff], // kana supplement and extensions, Nüshu
  [0x20000, 0x3fffd], // CJK extensions B and on
];

function isWide(code: number): boolean {
  return WIDE.some(([from, to]) => code >= from && code <= to);
}

/** The columns one grapheme cluster takes: 0, 1 or 2. */
function clusterWidth(cluster: string): number {
  if (isWide(cluster.codePointAt(0) ?? 0)) return 2; // first: the common case of a CJK name
  if (EMOJI.test(cluster) || FLAG_OR_KEYCAP.test(cluster)) return 2;
  return ZERO.test(cluster) ? 0 : 1;
}

/** Printable ASCII, one column a character: most cells, measured without segmenting. */
const NARROW = /^[\x20-\x7e]*$/;
/**
 * What joins characters into one cluster: marks and other extenders, ZWJ, skin tones, flags' halves,
 * Hangul vowel and final Jamo. Text without any is a cluster a code point, measured without segmenting
 * (Intl.Segmenter is some ten times slower, which a list of thousands of CJK names would show).
 */
const JOINS =
  /\u200D|[\p{Grapheme_Extend}\p{Mc}\p{Emoji_Modifier}\p{Regional_Indicator}\u1160-\u11FF\uD7B0-\uD7FF]/u;

/**
 * How many UTF-16 units are segmented at a time. Intl.Segmenter takes time in proportion to the whole
 * string for every cluster it gives (22 ms a cluster in a 1 MB text, measured on Node 22), and a model's
 * answer cut to 300 columns can be 20 MB: so text is read a window at a time, and only as far as needed.
 */
const WINDOW = 256;

/** Whether UTF-16 unit `unit` is the first half of a surrogate pair (NaN, past the end, is not). */
const isHighSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;

/** `text`'s grapheme clusters, in order, found as far as they are read (a cut reads only its start). */
function* clusters(text: string): Generator<string> {
  for (let from = 0; from < text.length; ) {
    // Never ending inside a surrogate pair: its lone first half would be a cluster of its own, so the
    // cluster before it (👍 of 👍🏽, 🇯 of 🇯🇵) would end there and be taken as whole.
    const end = from + WINDOW + (isHighSurrogate(text.charCodeAt(from + WINDOW - 1)) ? 1 : 0);
    const window = text.slice(from, end);
    const parts = JOINS.test(window)
      ? Array.from(segmenter.segment(window), (s) => s.segment)
      : Array.from(window);
    // The window's last cluster may go on in the next (an accent, a ZWJ, a skin tone):
    // it is read again from its start there. One cluster longer than a window (hundreds of stacked
    // marks) is taken a window at a time; the marks after the first window are then clusters of no width.
    const whole = end >= text.length || parts.length === 1;
    const taken = whole ? parts : parts.slice(0, -1);
    for (const part of taken) {
      yield part;
      from += part.length;
    }
  }
}

/** How many terminal columns `text` takes on one line. */
export function displayWidth(text: string): number {
  if (NARROW.test(text)) return text.length;
  let width = 0;
  for (const c of clusters(text)) width += clusterWidth(c);
  return width;
}

/**
 * How much of `text` fits in `max` columns, in UTF-16 units: the longest start of it made of whole
 * grapheme clusters (what a cut or a line break may keep). Reads only as far as the cut.
 */
export function fittingLength(text: string, max: number): number {
  if (NARROW.test(text)) return Math.min(text.length, Math.max(0, max));
  let width = 0;
  let at = 0;
  for (const c of clusters(text)) {
    width += clusterWidth(c);
    if (width > max) break;
    at += c.length;
  }
  return at;
}

/** `text` in at most `max` columns, a longer one cut between two grapheme clusters with an ellipsis. */
export function clipToWidth(text: string, max: number): string {
  if (fittingLength(text, max) === text.length) return text;
  return `${text.slice(0, fittingLength(text, max - 1))}…`; // the ellipsis takes the last column
}

/** `text` with spaces after it to fill `width` columns (none when it is as wide or wider). */
export function padToWidth(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}
