// The devices a session, a run or a command may ask for, and how the one that really ran is told. A
// module of its own so the backend, the CLI and the renderer can name them without loading ONNX
// Runtime (session.ts does).

import type { ProviderState } from './devices.ts';

export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type DeviceChoice = (typeof DEVICES)[number];

/**
 * Where work really ran: `device` is the provider that ran it (auto's choice, or the CPU after a
 * fallback), `fallback` why that is not the one `requested` (null when it is).
 */
export interface DeviceUsed {
  requested: string;
  device: string;
  fallback: string | null;
}

/**
 * The engine's reasons say how to install the CUDA pack in the command line's words (session.ts,
 * provider-probe.ts), and runs and replies store them so. In the studio the way is its Settings card;
 * the note that a command already running does not see a new pack is the CLI's (the studio's engine
 * processes start again when a pack is installed).
 */
const CUDA_INSTALL_CLI =
  /run `reft-studio runtime install cuda`( again)?(; a command that was already running when it was installed does not see it)?/g;
const forStudio = (reason: string): string =>
  reason.replace(CUDA_INSTALL_CLI, (_m, again: string | undefined) =>
    again
      ? 'install it again in Settings → NVIDIA GPU runtime'
      : 'install it in Settings → NVIDIA GPU runtime',
  );

/**
 * The one line a fallback is told in (the session's notice, the run's record, the CLI, the studio),
 * for `audience`: the studio's pages pass 'studio'.
 */
export const fallbackLine = (d: DeviceUsed, audience: 'cli' | 'studio' = 'cli'): string =>
  `device '${d.requested}' unavailable — ${audience === 'studio' && d.fallback ? forStudio(d.fallback) : d.fallback}; running on ${d.device}`;

/** A provider's reason (devices.ts ProviderState) as the studio's pages say it. */
export const studioReason = (p: Pick<ProviderState, 'reason' | 'studioReason'>): string | null =>
  p.studioReason ?? p.reason;

/** A record's device for people: the provider, or the fallback line when it is not the one asked for. */
export const deviceText = (d: DeviceUsed): string => (d.fallback ? fallbackLine(d) : `device: ${d.device}`);

/**
 * What a run records of its device: its config asks (a list entry carries only that ask,
 * `askedDevice`), runs.device and device_fallback say what ran.
 */
export type RunDeviceRecord = ({ config: Record<string, unknown> } | { askedDevice: string }) & {
  device: string | null;
  deviceFallback: string | null;
};

/**
 * The device a run's config asked for: the option's default, the CPU, where it names none, as the
 * trainer fills it. Not session.ts's requestedDevice (a session's, which reads REFT_STUDIO_DEVICE).
 */
export const runAskedDevice = (config: Record<string, unknown>): string => String(config.device ?? 'cpu');

/** Where a run's steps ran, beside what it asked for; null until its engine session exists. */
export const runDevice = (r: RunDeviceRecord): DeviceUsed | null =>
  r.device === null
    ? null
    : {
        requested: 'askedDevice' in r ? r.askedDevice : runAskedDevice(r.config),
        device: r.device,
        fallback: r.deviceFallback,
      };

/**
 * A run's device in the studio's Runs list: the provider, after a fallback with what was asked
 * for, "cpu (asked cuda)" (`runs list` marks it cpu*, to fit 80 columns); null before any step ran.
 */
export const deviceColumn = (d: DeviceUsed | null): string | null =>
  d && (d.fallback ? `${d.device} (asked ${d.requested})` : d.device);
