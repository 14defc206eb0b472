// Bounds on the shape of JSON-like data, checked without recursion. Every message is measured here
// before zod sees it: a recursive validator (or JSON.stringify) overflows the stack on a value nested
// a few thousand levels deep, and that throw would come from outside any handler's try. Settings
// values use the same walk with tighter limits.
// Only what JSON makes is walked: a MessagePort's structured clone also carries typed arrays, Maps,
// Dates… A 100 MB Uint8Array arrives as one cheap buffer, but walking its keys made a string for
// each byte and ran the backend out of memory, so such a value is refused unwalked ('not-json').

import { byteSize } from '../../../native-runtime/byte-size.ts';

/** The largest message a transport accepts (the WebSocket's maxPayload is a little above it). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Deepest nesting a message may have; real params are at most ~6 levels (a dataset row's messages). */
export const MAX_MESSAGE_DEPTH = 64;

export interface ShapeLimits {
  maxDepth: number;
  /** Approximate serialized size: string lengths plus a couple of bytes per value and key. */
  maxBytes: number;
}

export type ShapeProblem =
  | { kind: 'too-deep'; limit: number }
  | { kind: 'too-large'; limit: number }
  | { kind: 'not-json'; found: string };

/** An array or a plain object, as JSON.parse makes them (a structured clone's too). */
function isJsonContainer(v: object): boolean {
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Walks arrays and plain objects depth-first with an explicit stack and stops at the first limit
 * passed. A cyclic structure (possible over a MessagePort, whose structured clone keeps cycles)
 * is reported as too deep.
 */
export function checkShape(value: unknown, limits: ShapeLimits): ShapeProblem | null {
  const stack: [unknown, number][] = [[value, 0]];
  let bytes = 0;
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, depth] = top;
    if (typeof v === 'string') bytes += v.length + 2;
    else if (v === null || typeof v !== 'object') bytes += 2;
    else {
      // The type's own name (Uint8Array, Map, Date), read without calling anything the value holds.
      if (!isJsonContainer(v))
        return { kind: 'not-json', found: Object.prototype.toString.call(v).slice(8, -1) };
      if (depth >= limits.maxDepth) return { kind: 'too-deep', limit: limits.maxDepth };
      bytes += 2;
      if (Array.isArray(v)) {
        bytes += v.length;
        if (bytes > limits.maxBytes) return { kind: 'too-large', limit: limits.maxBytes };
        for (const item of v) stack.push([item, depth + 1]);
      } else {
        for (const key of Object.keys(v)) {
          bytes += key.length + 4;
          stack.push([(v as Record<string, unknown>)[key], depth + 1]);
        }
      }
    }
    if (bytes > limits.maxBytes) return { kind: 'too-large', limit: limits.maxBytes };
  }
  return null;
}

/** One line for a shape problem, e.g. "value is nested deeper than 64 levels". */
export function describeShapeProblem(what: string, p: ShapeProblem): string {
  switch (p.kind) {
    case 'too-deep':
      return `${what} is nested deeper than ${p.limit} levels`;
    case 'too-large':
      return `${what} is larger than ${byteSize(p.limit)}`;
    case 'not-json':
      return `${what} holds a value of type ${p.found}; only JSON values (objects, arrays, strings, numbers, booleans, null) are accepted`;
  }
}
