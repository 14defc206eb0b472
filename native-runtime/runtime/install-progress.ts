// A CUDA pack install's progress, recorded where other processes on the data folder see it:
// `.cuda-install.json` in the data folder (beside, not in, runtimes/: that folder holds packs and
// their temporary folders only), written by the process that holds the runtimes lock. The studio
// reads it on its library watcher's tick (electron/backend/handlers/devices.ts followPackChanges),
// so a Settings card open while `reft-studio runtime install cuda` runs in a terminal shows the
// install going on and how it ended, not nothing until a pack appears.
//
// Written atomically (a reader never sees half a record), a few times a second at most and at
// each new phase, and removed when the install ends however it ends: a failed or cancelled install
// leaves nothing behind, and its own process says why. A killed one's record is removed by the next
// install or removal (runtime-install.ts, with the lock held).

import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../formats/atomic-write.ts';
import type { InstallProgress } from './nuget-download.ts';

/** What one process's install of the CUDA pack is doing. */
export interface RecordedInstall extends InstallProgress {
  /** The installing process. */
  pid: number;
  state: 'running';
  /**
   * When the install began (ISO time): its pack's manifest has an `installedAt` no earlier, which is
   * how a reader tells the pack it left from one there before (devices.ts followInstallElsewhere).
   */
  startedAt: string;
}

/** The record's file in a data folder. */
export const installRecordFile = (dataDir: string): string => join(dataDir, '.cuda-install.json');

/** Progress reports written at most this often (the phase changing is always written). */
const EVERY_MS = 250;

/** Records one install, in the process holding the runtimes lock. */
export function recordInstall(dataDir: string): { progress(p: InstallProgress): void; end(): void } {
  const file = installRecordFile(dataDir);
  let lastAt = 0;
  let lastPhase = '';
  const startedAt = new Date().toISOString();
  return {
    progress(p) {
      const now = Date.now();
      if (p.phase === lastPhase && now - lastAt < EVERY_MS) return;
      lastAt = now;
      lastPhase = p.phase;
      // News for others, never a reason for the install itself to fail (a full disk: the install
      // says so by its own writes).
      try {
        writeFileAtomic(file, JSON.stringify({ pid: process.pid, state: 'running', startedAt, ...p }));
      } catch {}
    },
    end() {
      rmSync(file, { force: true });
    },
  };
}

/** A short text that changes with each write of the record (inode, time, size); '' when there is none. */
export function installRecordSignature(dataDir: string): string {
  try {
    const s = statSync(installRecordFile(dataDir), { throwIfNoEntry: false });
    return s ? `${s.ino}:${s.mtimeMs}:${s.size}` : '';
  } catch {
    return '';
  }
}

/** The record as it is now; null when there is none or it cannot be read. */
export function readInstallRecord(dataDir: string): RecordedInstall | null {
  try {
    const record = JSON.parse(readFileSync(installRecordFile(dataDir), 'utf8')) as RecordedInstall;
    return Number.isInteger(record.pid) && record.state === 'running' && typeof record.startedAt === 'string'
      ? record
      : null;
  } catch {
    return null;
  }
}
