// 'settings/*': key/value preferences stored as JSON.

import { z } from 'zod';
import {
  getSetting,
  getSettings,
  type JsonValue,
  setSetting,
  settingValueProblem,
} from '../library/settings.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Key = z.string().min(1).max(200);
// Bounded first, then checked as JSON: the recursive union only ever sees a small, shallow value.
const JsonSchema: z.ZodType<JsonValue, JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(JsonSchema),
    z.record(z.string(), JsonSchema),
  ]),
);
const Json = z
  .custom<JsonValue>()
  .superRefine((v, ctx) => {
    const problem = settingValueProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, abort: true });
  })
  .pipe(JsonSchema);

export const settingsHandlers = defineHandlers({
  /** Without `key`: every setting as an object. With `key`: its value, or null when unset. */
  'settings/get': handler(
    z.object({ key: Key.optional() }).strict(),
    (p, ctx): Record<string, JsonValue> | JsonValue =>
      p.key === undefined ? getSettings(ctx.lib) : (getSetting(ctx.lib, p.key) ?? null),
  ),
  /** Sets a key; a null value removes it. */
  'settings/set': handler(z.object({ key: Key, value: Json }).strict(), (p, ctx): { key: string } => {
    setSetting(ctx.lib, p.key, p.value);
    ctx.events.emit('library/changed', { kind: 'settings', action: 'updated' });
    return { key: p.key };
  }),
});

export type SettingsHandlers = ClientApi<typeof settingsHandlers>;
