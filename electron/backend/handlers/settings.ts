// 'settings/*': key/value preferences stored as JSON, and the engine and Hugging Face preferences of
// the Settings page (library/environment.ts: validated, applied at once, the token never sent back).

import { z } from 'zod';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { DEVICES } from '../../../native-runtime/runtime/device-choice.ts';
import { type EnvironmentReport, environmentReport, setEnvironment } from '../library/environment.ts';
import {
  getSetting,
  getSettings,
  isSecretSetting,
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
      p.key === undefined
        ? getSettings(ctx.lib)
        : isSecretSetting(p.key)
          ? getSetting(ctx.lib, p.key) !== undefined
          : (getSetting(ctx.lib, p.key) ?? null),
  ),
  /** Sets a key; a null value removes it. */
  'settings/set': handler(z.object({ key: Key, value: Json }).strict(), (p, ctx): { key: string } => {
    if (isSecretSetting(p.key) || p.key.startsWith('engine.') || p.key.startsWith('hub.'))
      throw new ValidationError('use-environment', `${p.key} is set with settings/environment-set`);
    setSetting(ctx.lib, p.key, p.value);
    ctx.events.emit('library/changed', { kind: 'settings', action: 'updated' });
    return { key: p.key };
  }),
  /** Device, threads, GPU, data folder and Hugging Face token (presence only) and cache folder. */
  'settings/environment': handler(
    z.object({}).strict(),
    (_p, ctx): EnvironmentReport => environmentReport(ctx.lib),
  ),
  /** Changes some of them; null clears the GPU choice, the token or the cache folder. Applied at once. */
  'settings/environment-set': handler(
    z
      .object({
        device: z.enum(DEVICES).optional(),
        threads: z.number().int().min(0).max(1024).optional(),
        gpu: z.number().int().min(0).max(255).nullable().optional(),
        hubToken: z.string().max(500).nullable().optional(),
        hubCachePath: z.string().max(4096).nullable().optional(),
      })
      .strict(),
    (p, ctx): EnvironmentReport => {
      const r = setEnvironment(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'settings', action: 'updated' });
      return r;
    },
  ),
});

export type SettingsHandlers = ClientApi<typeof settingsHandlers>;
