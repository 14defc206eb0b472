// 'system/devices' and 'system/runtime-*': what the Settings page shows about GPUs and execution
// providers, and the CUDA runtime pack's install button (progress on the 'runtime/progress' push).
// The work is in native-runtime/runtime/ (devices.ts, runtime-install.ts, cuda-pack.ts). A pack
// installed or removed here takes effect at once: the engine's processes start again under the new
// library path (Engine.refresh; busy ones when their work ends), no restart of the studio.
//
// A pack installed or removed by another process (`reft-studio runtime install|remove cuda` beside
// an open studio) is noticed by followPackChanges on the library watcher's 1 s tick, and pushed as
// the host's own would be, so an open Settings card follows it. A stat of the pack's manifest, not
// fs.watch: the runtimes folder may not exist yet, and the pack folder is renamed in and out whole,
// which a watch on it would lose. The devices report carries the install going on when it is asked
// for (installGoingOn), so a Settings page opened mid-way shows it at once.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CancelledError, ReftError } from '../../../native-runtime/errors.ts';
import { lockHolder } from '../../../native-runtime/pid-lock.ts';
import {
  listPacks,
  type PackStatus,
  packDir,
  readManifest,
  runtimesLock,
} from '../../../native-runtime/runtime/cuda-pack.ts';
import { type DevicesReport, detectDevices } from '../../../native-runtime/runtime/devices.ts';
import {
  installRecordSignature,
  type RecordedInstall,
  readInstallRecord,
} from '../../../native-runtime/runtime/install-progress.ts';
import { installCudaPack, removePack } from '../../../native-runtime/runtime/runtime-install.ts';
import type { BackendContext } from '../context.ts';
import type { RuntimeProgress } from '../events.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';
import { toUserError } from '../rpc/user-errors.ts';

/**
 * What system/devices answers: the probes' report (detectDevices: child processes that load ONNX
 * Runtime) with the engine processes' library (an engine process started to ask it). Seconds, 16 s
 * seen on a busy machine: the studio's backend starts it when it starts (probeDevicesEarly), so the
 * first page to ask (the Train wizard, Settings) does not wait for all of it; else the first ask.
 */
let report: Promise<DevicesReport> | null = null;
let installing: AbortController | null = null;

function makeReport(ctx: Pick<BackendContext, 'lib' | 'engine'>, fresh?: boolean): Promise<DevicesReport> {
  const probes = detectDevices({ dataDir: ctx.lib.dataDir, fresh, engineProcesses: true });
  // The engine processes' library (the pack's copy once installed), asked while the probes run;
  // this process's if they fail.
  const engineLibrary = ctx.engine.call('processInfo', {}).then(
    (i) => ({ ortLibrary: i.ortLibrary }),
    () => ({}),
  );
  const r = Promise.all([probes, engineLibrary]).then(([found, lib]) => ({ ...found, ...lib }));
  r.catch(() => {
    if (report === r) report = null;
  });
  return r;
}

/** Starts the devices report in the background, at the backend's start (host.ts). */
export function probeDevicesEarly(ctx: Pick<BackendContext, 'lib' | 'engine'>): void {
  report ??= makeReport(ctx);
}

/** The report under way or made, before any ask; null when none started (for the tests). */
export const devicesProbed = (): Promise<DevicesReport> | null => report;

/** Per data folder, the CUDA pack as this host last knew it (packSignature). */
const knownPack = new Map<string, string>();
/** Per data folder, the `installedAt` of the CUDA pack this host last removed. */
const removedHere = new Map<string, string>();

/**
 * The pack's manifest in a few characters: an install writes a new one (a new file renamed in),
 * a removal takes it away. '' when there is none; null when it cannot be looked at now.
 */
function packSignature(dataDir: string): string | null {
  try {
    const s = statSync(join(packDir(dataDir), 'manifest.json'), { throwIfNoEntry: false });
    return s ? `${s.ino}:${s.mtimeMs}:${s.size}` : '';
  } catch {
    return null;
  }
}

/** Takes in this host's own install or removal, which the next check must not push as another's. */
function takeInPack(dataDir: string): void {
  const sig = packSignature(dataDir);
  if (sig !== null) knownPack.set(dataDir, sig);
}

/**
 * The check the library watcher runs each tick (host.ts): when another process installed or
 * removed the CUDA pack, the devices report is read again, the engine's processes start again on
 * the library path now right (as after an install here), and clients hear a 'runtime/progress'
 * 'done' or 'removed' marked `elsewhere`. One stat while nothing changes.
 */
export function followPackChanges(ctx: Pick<BackendContext, 'lib' | 'events' | 'engine'>): () => void {
  const dataDir = ctx.lib.dataDir;
  takeInPack(dataDir);
  const followInstall = followInstallElsewhere(ctx);
  return () => {
    if (installing) return;
    followInstall();
    if (packSignature(dataDir) === knownPack.get(dataDir)) return;
    // Mid-way through an install or removal (a reinstall moves the old pack aside before the new
    // one is renamed in): its end is what to tell, not the moment without a pack.
    if (lockHolder(runtimesLock(dataDir))) return;
    const sig = packSignature(dataDir);
    if (sig === null) return;
    knownPack.set(dataDir, sig);
    report = null;
    ctx.engine.refresh();
    ctx.events.emit('runtime/progress', {
      name: 'cuda',
      state: sig ? 'done' : 'removed',
      phase: 'verify',
      bytes: 0,
      total: null,
      elsewhere: true,
    });
  };
}

/**
 * Another process's install as it goes (native-runtime/runtime/install-progress.ts): its progress
 * pushed as 'running' marked `elsewhere`, and its end when it did not install the pack (failed,
 * cancelled, killed: its own process says which and why); one that installed it is told by the new
 * manifest (followPackChanges). One stat while nothing changes.
 */
function followInstallElsewhere(ctx: Pick<BackendContext, 'lib' | 'events'>): () => void {
  const dataDir = ctx.lib.dataDir;
  const push = (p: Omit<RuntimeProgress, 'name' | 'elsewhere'>) =>
    ctx.events.emit('runtime/progress', { name: 'cuda', ...p, elsewhere: true });
  let seen = '';
  /** The install shown running, until its end is told. */
  let shown: RecordedInstall | null = null;
  return () => {
    const signature = installRecordSignature(dataDir);
    const record = signature !== seen && signature !== '' ? readInstallRecord(dataDir) : null;
    seen = signature;
    const holder = () => lockHolder(runtimesLock(dataDir))?.pid;
    if (record && record.pid !== process.pid && holder() === record.pid) {
      shown = record;
      push({ state: 'running', phase: record.phase, bytes: record.bytes, total: record.total });
      return;
    }
    // Its process let go of the lock. A new pack is told by its manifest; else it ended without one.
    if (!shown || holder() === shown.pid) return;
    const { phase, startedAt } = shown;
    shown = null;
    // Judged by what the install left, not by the pack as it is now: removed here in the same tick,
    // the pack it installed is already gone (its `removed` push was this host's own).
    const since = (installedAt: string | undefined) => installedAt !== undefined && installedAt >= startedAt;
    if (since(readManifest(packDir(dataDir))?.installedAt) || since(removedHere.get(dataDir))) return;
    const error = new ReftError(
      'install-ended',
      signature
        ? 'the install by another program stopped before it ended (its process is gone); the installed runtime (if any) is unchanged'
        : 'the install by another program ended without installing the runtime (it failed or was cancelled there: its output says why); the installed runtime (if any) is unchanged',
    );
    push({ state: 'failed', phase, bytes: 0, total: null, error: toUserError(error, dataDir) });
  };
}

/** The devices report as the Settings page gets it: with the CUDA pack install going on now. */
export interface StudioDevicesReport extends DevicesReport {
  /** What the install's last 'runtime/progress' push said (installGoingOn); null when none runs. */
  cudaInstall: RuntimeProgress | null;
}

/**
 * The CUDA pack install going on now, this host's or another process's (`elsewhere`), from its
 * record (install-progress.ts), trusted while its process holds the runtimes lock (a killed one
 * leaves its record behind). A page opened mid-way has no push to go by until the next report —
 * none at all while the install verifies the pack — so the devices report carries this.
 */
function installGoingOn(dataDir: string): RuntimeProgress | null {
  const record = readInstallRecord(dataDir);
  if (!record || lockHolder(runtimesLock(dataDir))?.pid !== record.pid) {
    // This host's own install before its first report: as its start was pushed.
    return installing ? { name: 'cuda', state: 'running', phase: 'download', bytes: 0, total: null } : null;
  }
  const { phase, bytes, total } = record;
  const elsewhere = record.pid !== process.pid ? { elsewhere: true as const } : {};
  return { name: 'cuda', state: 'running', phase, bytes, total, ...elsewhere };
}

export const devicesHandlers = defineHandlers({
  /**
   * Providers with state and reason, GPUs, drivers, the CUDA pack; probes run once unless refresh.
   * The install going on is read at each call (the probes' report is kept).
   */
  'system/devices': handler(z.object({ refresh: z.boolean().optional() }).strict(), async (p, ctx) => {
    if (p.refresh || !report) report = makeReport(ctx, p.refresh);
    const r = await report;
    return { ...r, cudaInstall: installGoingOn(ctx.lib.dataDir) } satisfies StudioDevicesReport;
  }),
  'system/runtime-list': handler(z.object({}).strict(), (_p, ctx): PackStatus[] =>
    listPacks(ctx.lib.dataDir),
  ),
  /**
   * Starts installing a pack (online from NuGet, or from an absolute file/folder path) and answers at
   * once; progress, completion and failure arrive as 'runtime/progress' pushes.
   */
  'system/runtime-install': handler(
    z.object({ name: z.literal('cuda'), from: z.string().min(1).max(4096).optional() }).strict(),
    (p, ctx): { started: true } => {
      if (installing)
        throw new ReftError(
          'busy',
          'an install of the CUDA pack is already running; try again when it has finished',
        );
      const from = p.from === undefined ? undefined : checkSourcePath(p.from);
      const ac = new AbortController();
      installing = ac;
      const push = (d: Omit<RuntimeProgress, 'name'>) =>
        ctx.events.emit('runtime/progress', { name: p.name, ...d });
      push({ state: 'running', phase: 'download', bytes: 0, total: null });
      // Told with the install's end, as the CLI tells them after its progress.
      const warnings: string[] = [];
      installCudaPack(ctx.lib.dataDir, {
        from,
        signal: ac.signal,
        onProgress: (g) => push({ state: 'running', ...g }),
        onWarning: (text) => warnings.push(text),
      })
        .then(
          () =>
            push({
              state: 'done',
              phase: 'verify',
              bytes: 0,
              total: null,
              ...(warnings.length ? { warnings } : {}),
            }),
          // Pushed, not answered: in the words a reply would have (no CLI flags, errno in words).
          // Cancel is what the person asked for, not a failure to report.
          (e) =>
            push(
              e instanceof CancelledError
                ? { state: 'cancelled', phase: 'verify', bytes: 0, total: null }
                : {
                    state: 'failed',
                    phase: 'verify',
                    bytes: 0,
                    total: null,
                    error: toUserError(e, ctx.lib.dataDir),
                  },
            ),
        )
        .finally(() => {
          installing = null;
          report = null;
          takeInPack(ctx.lib.dataDir);
          ctx.engine.refresh();
        });
      return { started: true };
    },
  ),
  'system/runtime-cancel': handler(z.object({}).strict(), (): { cancelled: boolean } => {
    installing?.abort();
    return { cancelled: !!installing };
  }),
  'system/runtime-remove': handler(
    z.object({ name: z.string().min(1).max(100) }).strict(),
    async (p, ctx): Promise<{ name: string; removed: boolean }> => {
      // Read before it goes: an install by another process that ended just before is judged by it.
      const installedAt = p.name === 'cuda' ? readManifest(packDir(ctx.lib.dataDir))?.installedAt : undefined;
      // Noted before the removal starts: the install watcher's tick may run while removePack awaits,
      // with the manifest already gone. Harmless if nothing is removed: the manifest, still there,
      // says the same.
      if (installedAt) removedHere.set(ctx.lib.dataDir, installedAt);
      const removed = await removePack(ctx.lib.dataDir, p.name);
      // Either way the pack's state is read again: when it was not there, another process (the CLI's
      // `runtime remove`) took it away after the report was made, and the page asks for the state now.
      report = null;
      ctx.engine.refresh();
      // Not taken in when it was not there: followPackChanges tells every client the CLI removed it.
      if (!removed) throw new ReftError('not-found', `no runtime pack "${p.name}" is installed`);
      takeInPack(ctx.lib.dataDir);
      // Every tab hears it, as they hear an install: another tab's card showed the pack still there.
      ctx.events.emit('runtime/progress', {
        name: p.name,
        state: 'removed',
        phase: 'verify',
        bytes: 0,
        total: null,
      });
      return { name: p.name, removed };
    },
  ),
});

export type DevicesHandlers = ClientApi<typeof devicesHandlers>;
