// The base model of a pyreft folder that does not name one (saved by pyreft itself, without our
// reft_studio.json): its config.json records only each intervention's hidden size and layer, so the
// library's models are the candidates, and one is taken only when it is the only one whose hidden size
// and layer count fit. Several rows with the same weights (one fingerprint: a copy in another folder)
// are one candidate, since the adapter records the fingerprint alone.
// Left out: guessing among models that fit equally (the user says which with --model).

import { ConfigError } from '../errors.ts';
import { checkAgainstModel, type PyreftIntervention } from '../formats/pyreft.ts';
import type { TargetModel } from './apply.ts';

/** A library model: its id, where there is one, is what --model takes. */
export type BaseCandidate = TargetModel & { id?: number };

/** A candidate as messages name it: "qwen2" (id 3). */
function named(m: BaseCandidate): string {
  return `"${m.name ?? m.fingerprint.slice(0, 16)}"${m.id === undefined ? '' : ` (id ${m.id})`}`;
}

/** What a pyreft folder asks of its model, in words: "hidden size 64 with at least 3 layers". */
function needs(interventions: Array<Pick<PyreftIntervention, 'embedDim' | 'layer'>>): string {
  const hidden = [...new Set(interventions.map((iv) => iv.embedDim))].join(' and ');
  const layers = Math.max(...interventions.map((iv) => iv.layer)) + 1;
  return `hidden size ${hidden} with at least ${layers} layer${layers === 1 ? '' : 's'}`;
}

/**
 * The one candidate `interventions` fit, with a note that says it was chosen; a ConfigError
 * ('missing-base-model' when none fits, 'ambiguous-base-model' when several do) otherwise. `where`
 * names the folder in messages.
 */
export function chooseBaseModel(
  interventions: Array<Pick<PyreftIntervention, 'key' | 'embedDim' | 'layer'>>,
  candidates: readonly BaseCandidate[],
  where: string,
): { model: BaseCandidate; note: string } {
  const fits = new Map<string, BaseCandidate>();
  for (const m of candidates) {
    if (fits.has(m.fingerprint)) continue;
    try {
      checkAgainstModel({ interventions }, m);
      fits.set(m.fingerprint, m);
    } catch {
      // another shape: not this adapter's base model
    }
  }
  const want = needs(interventions);
  const unnamed = `${where}: the folder does not say which base model it was trained for (no reft_studio.json)`;
  const [only, ...more] = fits.values();
  // No library id can help here (none fits): the base model's folder, added or given, is what can.
  if (!only)
    throw new ConfigError(
      'missing-base-model',
      `${unnamed}, and no library model has ${want}; add its base model to the library (models add DIR) or give its folder with --model DIR`,
    );
  if (more.length > 0) {
    const names = [only, ...more].map(named).join(', ');
    throw new ConfigError(
      'ambiguous-base-model',
      `${unnamed}, and ${more.length + 1} library models have ${want}: ${names}; give --model ID|DIR`,
    );
  }
  return {
    model: only,
    note: `base model: ${named(only)} (the only library model of ${want}); --model to choose another`,
  };
}
