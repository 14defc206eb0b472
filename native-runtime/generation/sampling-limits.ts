// The limits of the sampling controls a studio request may set: the backend's generate/run checks
// them (electron/backend/handlers/generate.ts) and the Playground's form names a value outside them
// before sending (renderer state/playground.svelte.ts). One table, so the two cannot drift apart.
// The CLI's flags are checked by cli/commands/generate.ts alone (no upper bounds there: a person at
// a terminal may ask for more than the window offers; only the seed's, which the sampler keeps in 32 bits).

import { z } from 'zod';

export const SAMPLING_FIELDS = {
  maxNewTokens: z.number().int().min(1).max(4096),
  temperature: z.number().min(0).max(10),
  topP: z.number().gt(0).max(1),
  topK: z.number().int().min(0).max(1_000_000),
  repetitionPenalty: z.number().gt(0).max(10),
  seed: z.number().int().min(0).max(0xffffffff),
};
export type SamplingKey = keyof typeof SAMPLING_FIELDS;

/** Stop texts (stop-strings.ts): a few, each short; an empty one would stop nothing. */
export const STOP_LIMITS = { count: 8, length: 200 };
export const STOP_STRINGS = z.array(z.string().min(1).max(STOP_LIMITS.length)).max(STOP_LIMITS.count);

/** What is wrong with a list of stop texts, one line each, in the Playground's words; [] when none. */
export function stopProblems(stops: readonly string[]): string[] {
  const out: string[] = [];
  if (stops.length > STOP_LIMITS.count) out.push(`Stop at takes at most ${STOP_LIMITS.count} texts.`);
  if (stops.some((s) => s.length > STOP_LIMITS.length))
    out.push(`Stop at: each text must be at most ${STOP_LIMITS.length} characters.`);
  return out;
}

/** How each control is named in the window, and what it takes, for one line per problem. */
const WORDS: Record<SamplingKey, [label: string, takes: string]> = {
  maxNewTokens: ['Max new tokens', 'a whole number from 1 to 4096'],
  temperature: ['Temperature', 'a number from 0 to 10'],
  topP: ['Top-p', 'a number above 0 and at most 1'],
  topK: ['Top-k', 'a whole number from 0 to 1,000,000'],
  repetitionPenalty: ['Repetition penalty', 'a number above 0 and at most 10'],
  seed: ['Seed', 'blank or a whole number from 0 to 4,294,967,295'],
};

/**
 * One line per value outside its limits ("Top-p must be a number above 0 and at most 1."); [] when
 * all fit. A null value (a cleared number field) is a problem unless its key is in `blankOk`.
 */
export function samplingProblems(
  values: Partial<Record<SamplingKey, number | null>>,
  blankOk: readonly SamplingKey[] = [],
): string[] {
  const out: string[] = [];
  for (const key of Object.keys(values) as SamplingKey[]) {
    const v = values[key];
    if (v === null && blankOk.includes(key)) continue;
    if (!SAMPLING_FIELDS[key].safeParse(v).success) out.push(`${WORDS[key][0]} must be ${WORDS[key][1]}.`);
  }
  return out;
}
