// Key/value settings stored as JSON (UI preferences, default device, demo-seeded marker).

import type { Library } from './library.ts';
import { parseJsonColumn } from './library.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export function getSettings(lib: Library): Record<string, JsonValue> {
  const rows = lib.db.prepare('SELECT key, value_json FROM settings ORDER BY key').all() as {
    key: string;
    value_json: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.key, parseJsonColumn<JsonValue>(r.value_json, null)]));
}

export function getSetting(lib: Library, key: string): JsonValue | undefined {
  const row = lib.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key) as
    | { value_json: string }
    | undefined;
  return row ? parseJsonColumn<JsonValue>(row.value_json, null) : undefined;
}

/** Sets a key; `null` removes it. */
export function setSetting(lib: Library, key: string, value: JsonValue): void {
  if (value === null) {
    lib.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    return;
  }
  lib.db
    .prepare(
      'INSERT INTO settings (key, value_json, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at',
    )
    .run(key, JSON.stringify(value), Date.now());
}
