// Whether a process still runs, by its pid: the lock files, owner records and temp folders that name
// the process holding them (weight conversions, the library, synthetic models, an engine's host).

import { readFileSync } from 'node:fs';

/**
 * Signal 0 delivers nothing; it only says whether the process exists (libuv answers it on Windows
 * too). EPERM: it exists but belongs to another user. A zombie (Linux: state Z or X in /proc) has
 * exited and only waits for its parent to collect it: it holds nothing, so it counts as gone (a
 * lock held by a killed install was refused as "already running" until the zombie was reaped).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const state = processState(pid);
  return state !== 'Z' && state !== 'X';
}

/** The one-letter state in /proc/PID/stat (R, S, D, Z…), or null where it cannot be read. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
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
