// The devices a session, a run or a command may ask for. A module of its own so the backend, the CLI
// and the renderer can name them without loading ONNX Runtime (session.ts does).
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

/** The one line a fallback is told in (the session's notice, the run's record, the CLI, the studio). */
export const fallbackLine = (d: DeviceUsed): string =>
  `device '${d.requested}' unavailable — ${d.fallback}; running on ${d.device}`;

/** A record's device for people: the provider, or the fallback line when it is not the one asked for. */
export const deviceText = (d: DeviceUsed): string => (d.fallback ? fallbackLine(d) : `device: ${d.device}`);
