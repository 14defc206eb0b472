// Key/value settings stored as JSON (UI preferences, default device, demo-seeded marker).

import { ValidationError } from '../../../native-runtime/errors.ts';
import { checkShape, describeShapeProblem, type ShapeLimits } from '../rpc/json-shape.ts';
import type { Library } from './library.ts';
import { parseJsonColumn } from './library.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A preference is small: these bound what one key may hold (the whole table is read at start-up). */
export const SETTING_LIMITS: ShapeLimits = { maxDepth: 16, maxBytes: 64 * 1024 };

/** Why `value` cannot be stored as a setting, or null when it can. */
export function settingValueProblem(value: unknown): string | null {
  const shape = checkShape(value, SETTING_LIMITS);
  return shape ? describeShapeProblem('a setting value', shape) : null;
}

/** Keys whose values never leave the backend (library/environment.ts): listed as set, never shown. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['hub.token']);

/** Every setting for clients: a secret's value is replaced by true (it is set). */
export function getSettings(lib: Library): Record<string, JsonValue> {
  const rows = lib.db.prepare('SELECT key, value_json FROM settings ORDER BY key').all() as {
    key: string;
    value_json: string;
  }[];
  return Object.fromEntries(
    rows.map((r) => [r.key, SECRET_KEYS.has(r.key) ? true : parseJsonColumn<JsonValue>(r.value_json, null)]),
  );
}

export function isSecretSetting(key: string): boolean {
  return SECRET_KEYS.has(key);
}

export function getSetting(lib: Library, key: string): JsonValue | undefined {
  const row = lib.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key) as
    | { value_json: string }
    | undefined;
  return row ? parseJsonColumn<JsonValue>(row.value_json, null) : undefined;
}

/** Sets a key; `null` removes it. */
export function setSetting(lib: Library, key: string, value: JsonValue): void {
  const problem = settingValueProblem(value);
  if (problem) throw new ValidationError('too-large', problem);
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
