// A choice option's list as a select shows it. A stored value may be spelled outside the declared
// choices (a run started with `--quantize int4-b64` on the command line, opened again in the Train
// form): without an option of its own the select shows nothing chosen, and re-using the settings
// would silently lose it.

import type { Choice } from '../../../../native-runtime/training/options.ts';

/** `choices`, with one more for `value` when it is set and none of them. */
export function choicesShowing<T extends string>(
  choices: readonly Choice<T>[],
  value: unknown,
): readonly Choice<string>[] {
  if (typeof value !== 'string' || value === '' || choices.some((c) => c.value === value)) return choices;
  return [...choices, { value, label: value, help: 'as the run or model was set, outside these choices' }];
}
