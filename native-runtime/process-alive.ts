// Whether a process still runs, by its pid: the lock files, owner records and temp folders that name
// the process holding them (weight conversions, the library, synthetic models, an engine's host).

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
