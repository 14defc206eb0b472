// The probe timeline's cards (ProbeTimeline.svelte; `reft-studio runs show` prints them too): one
// row per probe prompt, one card per step it was answered at (step 0: the base model before training),
// oldest first; an empty answer says why where it was told (RunSample.emptyNote). A step answered twice (a run resumed from a checkpoint before it answers it again) is
// one card with the latest answer, so the Probes tab counts cards, not the answers stored.

import type { RunSample } from './runs.ts';

export interface ProbeCard {
  step: number;
  output: string;
  /** Why an empty output is empty though tokens were generated (RunSample.emptyNote); else null. */
  emptyNote: string | null;
  /** Different from the previous card's answer. */
  changed: boolean;
}

export interface ProbeRow {
  prompt: string;
  cards: ProbeCard[];
}

/** The rows and cards of `samples` (in the order they were answered: a later answer wins). */
export function probeRows(samples: readonly RunSample[]): ProbeRow[] {
  const byPrompt = new Map<string, Map<number, RunSample>>();
  for (const s of samples) {
    let m = byPrompt.get(s.prompt);
    if (!m) {
      m = new Map();
      byPrompt.set(s.prompt, m);
    }
    m.set(s.step ?? 0, s);
  }
  return [...byPrompt].map(([prompt, m]) => {
    const steps = [...m.keys()].sort((a, b) => a - b);
    return {
      prompt,
      cards: steps.map((step, i) => ({
        step,
        output: m.get(step)?.output ?? '',
        emptyNote: m.get(step)?.emptyNote ?? null,
        changed: i > 0 && m.get(step)?.output !== m.get(steps[i - 1] as number)?.output,
      })),
    };
  });
}

/** What a card shows: its answer, or why there is none. */
export function cardText(card: ProbeCard): string {
  return card.output || `(${card.emptyNote ?? 'empty answer'})`;
}

/** How many cards the timeline shows: the Probes tab's count. */
export function probeCardCount(rows: readonly ProbeRow[]): number {
  return rows.reduce((n, r) => n + r.cards.length, 0);
}
