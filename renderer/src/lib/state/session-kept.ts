// Page state kept across a reload of the tab (F5, Electron's Ctrl+R): JSON in sessionStorage, this tab
// only and gone with it. A page's state object reads its fields back when it is made and writes them
// from an effect that reads them. Storage may be off (some privacy settings) or full: the state then
// lives one load, as before.

/** The fields saved under `key`, or null when there are none (or storage cannot be read). */
export function readKept(key: string): Record<string, unknown> | null {
  try {
    const saved: unknown = JSON.parse(sessionStorage.getItem(key) ?? 'null');
    return typeof saved === 'object' && saved !== null && !Array.isArray(saved)
      ? (saved as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Saves `fields` under `key` (plain values: call with $state.snapshot's). */
export function writeKept(key: string, fields: Record<string, unknown>): void {
  try {
    sessionStorage.setItem(key, JSON.stringify(fields));
  } catch {
    // storage full or unavailable: only a reload loses them
  }
}
