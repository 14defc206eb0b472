// The Train wizard's Device choices, before and after the backend's devices probe answers. The probe
// starts processes that load ONNX Runtime (seconds; 16 s on a busy machine), and the CPU and
// Automatic always run: they are offered at once, the GPUs once the probe says which run here. A GPU
// already chosen (a cloned run, a draft kept across a reload) stays chosen meanwhile, shown as being
// checked — a select without its option would show the CPU while the run still asks for the GPU.

import { studioReason } from '../../../../native-runtime/runtime/device-choice.ts';
import { type Choice, DEVICE_CHOICES } from '../../../../native-runtime/training/options.ts';
import type { ProviderState } from '../rpc/handlers.ts';

/** The providers that run here (system/devices): 'checking' until it answers; null when it failed. */
export type ProvidersKnown = readonly ProviderState[] | 'checking' | null;

export interface DeviceOffer {
  /** The choices listed now. */
  choices: readonly Choice<string>[];
  /** Listed choices that cannot run here, with why (disabled). */
  unavailable: Record<string, string>;
  /** A line beside the field; `spoken` when the chosen device will not run as chosen. */
  aside: { text: string; spoken: boolean } | null;
}

/** Run whatever the probe says: the CPU, and Automatic (the fastest that runs, else the CPU). */
const ALWAYS = new Set(['cpu', 'auto']);

/** Beside the field when the probe failed. */
export const NOT_CHECKED =
  'Could not check which GPUs run here: a device that cannot run trains on the CPU instead.';

/**
 * A Device field's choices before the probe answers, out of `all` (each named by `id`): those that
 * always run, and `chosen` when it is another, kept listed (and so selected) as being checked; with
 * the line beside the field. The wizard's choices and the Settings page's both go through here.
 */
export function whileChecking<C extends { label: string }>(
  all: readonly C[],
  id: (c: C) => string,
  chosen: unknown,
): { choices: C[]; note: string } {
  const picked = all.find((c) => id(c) === chosen);
  const pending = picked && !ALWAYS.has(id(picked)) ? picked : null;
  return {
    choices: [
      ...all.filter((c) => ALWAYS.has(id(c))),
      ...(pending ? [{ ...pending, label: `${pending.label} (checking…)` }] : []),
    ],
    note: pending
      ? `Checking which GPUs run here… ${pending.label} stays chosen meanwhile.`
      : 'Checking which GPUs run here… the CPU can be chosen now.',
  };
}

/** Why `c` cannot run: this system's ONNX Runtime has no such provider (DirectML off Windows…). */
export const notInRuntime = (c: Choice<string>): string =>
  `ONNX Runtime has no ${c.label} provider here (${c.help})`;

/** What the Device field offers with `providers` known so far and `chosen` in the draft. */
export function deviceOffer(providers: ProvidersKnown, chosen: unknown): DeviceOffer {
  const picked = DEVICE_CHOICES.find((c) => c.value === chosen);
  if (providers === 'checking') {
    const { choices, note } = whileChecking(DEVICE_CHOICES, (c) => c.value, chosen);
    return { choices, unavailable: {}, aside: { text: note, spoken: false } };
  }
  if (providers === null)
    return {
      choices: DEVICE_CHOICES,
      unavailable: {},
      aside: { text: NOT_CHECKED, spoken: false },
    };
  // A provider this system's ONNX Runtime does not have at all (DirectML off Windows, Core ML off
  // macOS) is not in the report: unavailable too, not a silent fall back to the CPU.
  const unavailable: Record<string, string> = Object.fromEntries(
    providers
      .filter((p) => p.state !== 'available' && !ALWAYS.has(p.name))
      .map((p) => [p.name, studioReason(p) ?? p.state]),
  );
  for (const c of DEVICE_CHOICES)
    if (!ALWAYS.has(c.value) && !providers.some((p) => p.name === c.value))
      unavailable[c.value] = notInRuntime(c);
  const why = picked ? unavailable[picked.value] : undefined;
  return {
    choices: DEVICE_CHOICES,
    unavailable,
    aside:
      picked && why
        ? { text: `${picked.label} cannot run here (${why}): the run would train on the CPU.`, spoken: true }
        : null,
  };
}
