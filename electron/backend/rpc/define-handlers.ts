// Declaring RPC handlers. Each handler is a zod schema for its params plus an async function; one
// domain file declares its set with defineHandlers and exports the client-side type of the set:
//   export const modelsHandlers = defineHandlers({ 'models/list': handler(z.object({}), listFn) });
//   export type ModelsHandlers = ClientApi<typeof modelsHandlers>;
// combineHandlers merges the domains and throws on a duplicate name, so no method is silently shadowed.

import type { z } from 'zod';
import type { ReftError } from '../../../native-runtime/errors.ts';
import type { BackendContext } from '../context.ts';

export interface HandlerDef<S extends z.ZodType = z.ZodType, R = unknown> {
  params: S;
  run: (params: z.output<S>, ctx: BackendContext) => R | Promise<R>;
  /**
   * Words a refusal of the params in the domain's own terms (a specific code and message) instead
   * of the generic 'invalid-params'; null leaves the generic one.
   */
  refuse?: (params: unknown) => ReftError | null;
}

// biome-ignore lint/suspicious/noExplicitAny: a set holds handlers of every param/result type.
export type HandlerSet = Record<string, HandlerDef<any, any>>;

export function handler<S extends z.ZodType, R>(
  params: S,
  run: (params: z.output<S>, ctx: BackendContext) => R | Promise<R>,
  opts: { refuse?: (params: unknown) => ReftError | null } = {},
): HandlerDef<S, Awaited<R>> {
  return { params, run, refuse: opts.refuse } as HandlerDef<S, Awaited<R>>;
}

const NAME_RE = /^[a-z][a-z0-9-]*\/[a-z][a-zA-Z0-9-]*$/;

/** Checks method names (`domain/verb`) and returns the set unchanged. */
export function defineHandlers<T extends HandlerSet>(defs: T): T {
  for (const name of Object.keys(defs)) {
    if (!NAME_RE.test(name)) throw new Error(`RPC method name "${name}" is not domain/verb`);
  }
  return defs;
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never;

/** Merges domain sets into one; a name defined twice is a programming error and throws. */
export function combineHandlers<T extends HandlerSet[]>(...sets: T): UnionToIntersection<T[number]> {
  const out: HandlerSet = Object.create(null);
  for (const set of sets) {
    for (const [name, def] of Object.entries(set)) {
      if (name in out) throw new Error(`RPC method "${name}" is defined twice`);
      out[name] = def;
    }
  }
  return out as UnionToIntersection<T[number]>;
}

/** The client's view of a set: method name → (params) => Promise<result>. */
export type ClientApi<T extends HandlerSet> = {
  [K in keyof T]: T[K] extends HandlerDef<infer S, infer R> ? (params: z.input<S>) => Promise<R> : never;
};
