// The Settings page's Device choices: CPU, Automatic, and each provider the engine knows, with why
// it is unavailable — or, for one that runs but slowly (WebGPU on a software adapter, no GPU found),
// why it is a poor choice, as `reft-studio devices` says "available (software)" with its reason.
// Until the devices report comes (seconds: it loads ONNX Runtime), the stored choice stays listed and
// selected, as being checked (train/device-offer.ts, as the Train wizard does): a select without its
// option showed blank, and a save meanwhile could store another device than the one chosen.

import { studioReason } from '../../../native-runtime/runtime/device-choice.ts';
import { DEVICE_CHOICES } from '../../../native-runtime/training/options.ts';
import type { DevicesReport, EnvironmentReport } from './rpc/handlers.ts';
import { NOT_CHECKED, notInRuntime, whileChecking } from './train/device-offer.ts';

export type DeviceId = EnvironmentReport['device'];

export interface DeviceChoice {
  id: DeviceId;
  label: string;
  /** The option can not be chosen: the provider does not run here. */
  disabled: boolean;
  /** It runs, but on a software adapter: on the CPU, far slower than a GPU. */
  software: boolean;
  /** One line beside the select: why it is unavailable, or why it runs slowly; null when neither. */
  reason: string | null;
}

const providerLabel: Record<string, string> = {
  cpu: 'CPU',
  cuda: 'NVIDIA GPU (CUDA)',
  webgpu: 'GPU (WebGPU)',
  dml: 'GPU (DirectML)',
  coreml: 'Apple (Core ML)',
};

/** The devices report: 'checking' while it loads, null when it failed. */
export type DevicesKnown = DevicesReport | 'checking' | null;

const plain = (id: DeviceId, label: string): DeviceChoice => ({
  id,
  label,
  disabled: false,
  software: false,
  reason: null,
});

/** Every choice, as offered when the report cannot tell which run here. */
const EVERY: DeviceChoice[] = [
  plain('cpu', 'CPU'),
  plain('auto', 'Automatic'),
  ...Object.entries(providerLabel)
    .filter(([id]) => id !== 'cpu')
    .map(([id, label]) => plain(id as DeviceId, label)),
];

/** The choices, in order, for `devices` with `chosen` stored (while it loads: CPU, Automatic and `chosen`). */
export function deviceChoices(devices: DevicesKnown, chosen?: DeviceId): DeviceChoice[] {
  if (devices === 'checking') return whileChecking(EVERY, (c) => c.id, chosen).choices;
  if (devices === null) return EVERY;
  const out: DeviceChoice[] = [
    plain('cpu', 'CPU'),
    plain('auto', `Automatic (now: ${providerLabel[devices.auto] ?? devices.auto})`),
  ];
  for (const p of devices.providers) {
    if (p.name === 'cpu' || p.name === 'tensorrt' || !(p.name in providerLabel)) continue;
    const available = p.state === 'available';
    // An available provider's reason is kept only when it runs in software: the user would
    // otherwise pick "GPU" and get the CPU, emulating one.
    const software = available && p.software === true;
    out.push({
      id: p.name as DeviceId,
      label: providerLabel[p.name] ?? p.name,
      disabled: !available,
      software,
      reason: available && !software ? null : studioReason(p),
    });
  }
  // A stored device this system's ONNX Runtime does not have at all is not in the report: still
  // listed (and so shown chosen), unavailable with why — a select without it showed blank.
  const stored = DEVICE_CHOICES.find((c) => c.value === chosen);
  if (stored && !out.some((c) => c.id === chosen))
    out.push({
      ...plain(stored.value, providerLabel[stored.value] ?? stored.label),
      disabled: true,
      reason: notInRuntime(stored),
    });
  return out;
}

/** The line beside the select until the report comes, or when it failed; null once it came. */
export function devicesNote(devices: DevicesKnown, chosen?: DeviceId): string | null {
  if (devices === 'checking') return whileChecking(EVERY, (c) => c.id, chosen).note;
  return devices === null ? NOT_CHECKED : null;
}

/** The option's text: its label, and a word on why it is unavailable or slow. */
export function choiceText(c: DeviceChoice): string {
  if (c.disabled) return `${c.label} — unavailable`;
  return c.software ? `${c.label} — software, on the CPU` : c.label;
}
