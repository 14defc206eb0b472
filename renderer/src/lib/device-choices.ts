// The Settings page's Device choices: CPU, Automatic, and each provider the engine knows, with why
// it is unavailable — or, for one that runs but slowly (WebGPU on a software adapter, no GPU found),
// why it is a poor choice, as `reft-studio devices` says "available (software)" with its reason.

import { studioReason } from '../../../native-runtime/runtime/device-choice.ts';
import type { DevicesReport, EnvironmentReport } from './rpc/handlers.ts';

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

/** The choices, in order, for `devices` (null while it loads: CPU and Automatic only). */
export function deviceChoices(devices: DevicesReport | null | undefined): DeviceChoice[] {
  const out: DeviceChoice[] = [
    { id: 'cpu', label: 'CPU', disabled: false, software: false, reason: null },
    {
      id: 'auto',
      label: `Automatic${devices ? ` (now: ${providerLabel[devices.auto] ?? devices.auto})` : ''}`,
      disabled: false,
      software: false,
      reason: null,
    },
  ];
  for (const p of devices?.providers ?? []) {
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
  return out;
}

/** The option's text: its label, and a word on why it is unavailable or slow. */
export function choiceText(c: DeviceChoice): string {
  if (c.disabled) return `${c.label} — unavailable`;
  return c.software ? `${c.label} — software, on the CPU` : c.label;
}
