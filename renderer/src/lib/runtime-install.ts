// The CUDA runtime card's install line (components/CudaRuntime.svelte): which install it shows, and
// its phase in words.

import type { DevicesReport, PushTopics } from './rpc/handlers.ts';

type Progress = PushTopics['runtime/progress'];

const PHASES: Record<Progress['phase'], string> = {
  download: 'Downloading',
  extract: 'Unpacking',
  copy: 'Copying',
  verify: 'Verifying',
};

/**
 * The install to show: the last 'runtime/progress' push heard, else the install the devices report
 * carries — a page opened mid-way hears nothing until the install's next report, and none comes
 * while it verifies the pack.
 */
export function shownInstall(
  heard: Progress | null,
  devices: DevicesReport | null | undefined,
): Progress | null {
  return heard ?? devices?.cudaInstall ?? null;
}

/** "Verifying (another program is installing it)": the phase, and whose install it is. */
export function installPhaseText(p: Pick<Progress, 'phase' | 'elsewhere'>): string {
  return `${PHASES[p.phase] ?? p.phase}${p.elsewhere ? ' (another program is installing it)' : ''}`;
}

/**
 * What is said aloud when an install ends: the card's note, then each warning the install gave
 * (RuntimeProgress.warnings). One message: a second `spoken` note at once would cut the first off.
 */
export function spokenWithWarnings(note: string, warnings: readonly string[]): string {
  return [note, ...warnings.map((w) => `Warning: ${w}`)].join(' ');
}
