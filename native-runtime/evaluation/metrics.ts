// Evaluation metrics and answer extraction, as the ReFT paper's evaluations score generations
// (pyreft's examples, which take them from LLM-Adapters):
//   arithmetic (GSM8K, AQuA, ...)  the LAST number in the output (commas removed) is the answer; it is
//                                  right when it is within 1e-3 of the reference number
//   commonsense (BoolQ, PIQA, ...) the FIRST option label the output names ("answer2", "solution1",
//                                  "true") is the answer; for lettered options "answer is B", "(B)",
//                                  "B)" or a bare "B" as the whole answer; failing both, the option
//                                  whose text appears first in the output
// plus perplexity from a token-weighted mean loss. Pure functions: no engine, no I/O.
// Leaves out: LLM-as-judge scoring and BLEU/ROUGE.

/** exp(mean token loss); Infinity for a non-finite or overflowing loss. */
export function perplexity(meanLoss: number): number {
  if (!Number.isFinite(meanLoss)) return Number.POSITIVE_INFINITY;
  const p = Math.exp(meanLoss);
  return Number.isFinite(p) ? p : Number.POSITIVE_INFINITY;
}

/** Token-weighted mean of per-batch mean losses: Σ loss_i·n_i / Σ n_i (NaN when no tokens). */
export function weightedMeanLoss(parts: ReadonlyArray<{ loss: number; tokens: number }>): number {
  let sum = 0;
  let n = 0;
  for (const p of parts) {
    if (p.tokens <= 0) continue;
    sum += p.loss * p.tokens;
    n += p.tokens;
  }
  return n ? sum / n : Number.NaN;
}

// A number: optional sign, digits with optional thousands commas, optional decimals; or ".5".
const NUMBER_RE = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+/g;

/** Every number in `text`, in order (thousands separators removed; "1,234.5" → 1234.5). */
export function extractNumbers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(NUMBER_RE)) {
    const v = Number(m[0].replace(/,/g, ''));
    if (Number.isFinite(v)) out.push(v);
  }
  return out;
}

/**
 * The arithmetic answer of an output: the last number in it (LLM-Adapters' extract_answer_number).
 * A GSM8K-style "#### 42" marker, when present, wins. null when the output has no number.
 */
export function extractLastNumber(text: string): number | null {
  const marked = /####\s*(-?[\d,]*\.?\d+)/.exec(text);
  if (marked) {
    const v = Number(marked[1].replace(/,/g, ''));
    if (Number.isFinite(v)) return v;
  }
  const all = extractNumbers(text);
  return all.length ? all[all.length - 1] : null;
}

/** Numbers equal within `tol` (the arithmetic evaluation's 1e-3). */
export function numbersMatch(a: number | null, b: number | null, tol = 1e-3): boolean {
  return a !== null && b !== null && Math.abs(a - b) < tol;
}

/** Lower case, articles and punctuation removed, whitespace collapsed (SQuAD-style normalisation). */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Exact match of an output against a reference: numerically when the reference is a number (the
 * output's last number), otherwise on normalised text (the output may continue after the answer, so
 * the normalised output must start with the normalised reference).
 */
export function exactMatch(output: string, reference: string): boolean {
  const refNum = extractLastNumber(reference);
  const refIsNumber = refNum !== null && /^\s*[-\d.,#\s$%]+\s*$/.test(reference.trim());
  if (refIsNumber) return numbersMatch(extractLastNumber(output), refNum);
  const o = normalizeAnswer(output);
  const r = normalizeAnswer(reference);
  return r.length > 0 && (o === r || o.startsWith(`${r} `));
}

/** The commonsense label families of LLM-Adapters' extract_answer (dataset → pattern). */
export const CHOICE_LABELS: ReadonlyArray<RegExp> = [
  /\b(true|false)\b/i, // boolq
  /\b(solution[12])\b/i, // piqa
  /\b(answer[1-5])\b/i, // social_i_qa, ARC, openbookqa
  /\b(ending[1-4])\b/i, // hellaswag
  /\b(option[12])\b/i, // winogrande
];

export interface ChoiceOptions {
  /** Option labels to look for, e.g. ['A','B','C','D'] or ['answer1','answer2']. */
  labels?: readonly string[];
  /** Option texts, in label order; matched when no label is found. */
  options?: readonly string[];
}

/**
 * The option an output picks, as a canonical label (lower case for word labels, upper case for
 * letters), or null. Order of tries: an explicit label word (answerN, solutionN, endingN, optionN,
 * true/false, or one of `labels`); a lettered choice; the option text appearing first.
 */
export function extractChoice(output: string, opts: ChoiceOptions = {}): string | null {
  const labels = opts.labels ?? [];
  const words = labels.filter((l) => l.length > 1);
  const letters = labels.filter((l) => /^[A-Za-z]$/.test(l)).map((l) => l.toUpperCase());
  // 1. Word labels: the earliest occurrence of any of them.
  let best: { at: number; label: string } | null = null;
  const consider = (at: number, label: string) => {
    if (!best || at < best.at) best = { at, label };
  };
  // Given labels replace the default families (so "true" in a PIQA output is not an answer).
  if (!labels.length) {
    for (const re of CHOICE_LABELS) {
      const m = re.exec(output);
      if (m) consider(m.index, m[1].toLowerCase());
    }
  }
  for (const w of words) {
    const m = new RegExp(`\\b${escapeRe(w)}\\b`, 'i').exec(output);
    if (m) consider(m.index, w.toLowerCase());
  }
  if (best) return (best as { label: string }).label;
  // 2. Letters: "(B)", "B)", "B.", "answer is B", or a standalone capital letter A–E.
  const allowed = letters.length ? letters : ['A', 'B', 'C', 'D', 'E'];
  const set = `[${allowed.join('')}]`;
  // The explicit forms first; a bare letter only as the whole answer ("B", "B." at the start), since
  // "A" is also an English article.
  const lettered = [
    new RegExp(`[Aa]nswer(?: is|:)?\\s*\\(?(${set})\\b`),
    new RegExp(`\\((${set})\\)`),
    new RegExp(`(?:^|\\s)(${set})[).:](?:\\s|$)`),
    new RegExp(`^\\s*(${set})\\s*(?:$|[),.:;])`),
  ];
  for (const re of lettered) {
    const m = re.exec(output);
    if (m) return m[1].toUpperCase();
  }
  // 3. Option texts: the one mentioned first (longest wins a tie, "New York City" over "York").
  const o = normalizeAnswer(output);
  let byText: { at: number; len: number; i: number } | null = null;
  (opts.options ?? []).forEach((text, i) => {
    const t = normalizeAnswer(text);
    if (!t) return;
    const at = ` ${o} `.indexOf(` ${t} `);
    if (at < 0) return;
    if (!byText || at < byText.at || (at === byText.at && t.length > byText.len))
      byText = { at, len: t.length, i };
  });
  if (byText) {
    const i = (byText as { i: number }).i;
    return labels[i] !== undefined ? canonicalLabel(labels[i]) : String(i);
  }
  return null;
}

function canonicalLabel(l: string): string {
  return l.length === 1 ? l.toUpperCase() : l.toLowerCase();
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether an output picks the reference's option (the reference itself goes through extractChoice). */
export function choiceMatch(output: string, reference: string, opts: ChoiceOptions = {}): boolean {
  const want = extractChoice(reference, opts) ?? canonicalLabel(reference.trim());
  const got = extractChoice(output, opts);
  return got !== null && got === want;
}

/** Fraction correct, with the counts. */
export function accuracy(results: readonly boolean[]): { accuracy: number; correct: number; total: number } {
  const correct = results.filter(Boolean).length;
  return { accuracy: results.length ? correct / results.length : Number.NaN, correct, total: results.length };
}
