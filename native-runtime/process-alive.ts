// Whether a process still runs, by its pid: the lock files, owner records and temp folders that name
// the process holding them (weight conversions, the library, synthetic models, an engine's host).

import { readFileSync } from 'node:fs';

/**
 * Signal 0 delivers nothing; it only says whether the process exists (libuv answers it on Windows
 * too). EPERM: it exists but belongs to another user.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When the process started, as a token that tells two processes with the same pid apart (a pid is
 * reused once its process is gone): its start time in clock ticks since boot, from /proc on Linux;
 * null where that cannot be read (another OS, the process gone).
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so cut at its closing parenthesis):
    // state is field 3 of the line, starttime field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
