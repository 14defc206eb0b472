// The single entry point for every transport: takes one raw incoming message (a JSON string, a
// Buffer, or an already-decoded object from a MessagePort) and always resolves to exactly one reply
// or error envelope. It never throws: malformed JSON, a non-object, a message too large or nested too
// deep (measured before zod, whose recursive schemas would overflow the stack), an unknown method,
// params that fail their zod schema, and exceptions anywhere — validation included — all become
// error replies, so a bad client cannot bring the backend down. Every error reply's message is one
// line with its control characters visible (oneLineVisible): messages repeat what the caller sent
// (a path, a repo id, a method name), and a newline or an escape sequence there must not reach a
// window's notice or a terminal raw.

import type { z } from 'zod';
import { oneLineVisible } from '../../../native-runtime/control-characters.ts';
import { toWireError } from '../../../native-runtime/errors.ts';
import type { BackendContext } from '../context.ts';
import type { HandlerSet } from './define-handlers.ts';
import { type ErrorMessage, errorMessage, type ReplyMessage } from './envelope.ts';
import { checkShape, describeShapeProblem, MAX_MESSAGE_BYTES, MAX_MESSAGE_DEPTH } from './json-shape.ts';
import { toUserError } from './user-errors.ts';

export interface DispatchOptions {
  /** Called with handler failures that are not ReftErrors (bugs), e.g. to log their stack. */
  onInternalError?: (method: string, err: unknown) => void;
}

function decode(raw: unknown): { ok: true; value: unknown } | { ok: false; error: ErrorMessage } {
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const size = typeof raw === 'string' ? raw.length : raw.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      return {
        ok: false,
        error: errorMessage(
          null,
          'too-large',
          describeShapeProblem('message', { kind: 'too-large', limit: MAX_MESSAGE_BYTES }),
        ),
      };
    }
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return {
        ok: false,
        error: errorMessage(null, 'bad-message', `message is not valid JSON: ${(e as Error).message}`),
      };
    }
  }
  return { ok: true, value: raw };
}

/** The request id of a decoded message, or null when it has none (the error then carries null). */
function idOf(msg: unknown): number | null {
  if (typeof msg !== 'object' || msg === null) return null;
  const id = (msg as { id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

export async function dispatch(
  handlers: HandlerSet,
  raw: unknown,
  ctx: BackendContext,
  opts: DispatchOptions = {},
): Promise<ReplyMessage | ErrorMessage> {
  const answer = await dispatchRaw(handlers, raw, ctx, opts);
  if (answer.type === 'reply') return answer;
  return { ...answer, error: { ...answer.error, message: oneLineVisible(answer.error.message) } };
}

async function dispatchRaw(
  handlers: HandlerSet,
  raw: unknown,
  ctx: BackendContext,
  opts: DispatchOptions,
): Promise<ReplyMessage | ErrorMessage> {
  let id: number | null = null;
  try {
    const decoded = decode(raw);
    if (!decoded.ok) return decoded.error;
    id = idOf(decoded.value);
    return await dispatchDecoded(handlers, decoded.value, ctx, opts);
  } catch (err) {
    // Anything not turned into an error reply below (a bug, or a stack overflow in a validator).
    opts.onInternalError?.('(dispatch)', err);
    return { type: 'error', id, error: toWireError(err) };
  }
}

async function dispatchDecoded(
  handlers: HandlerSet,
  msg: unknown,
  ctx: BackendContext,
  opts: DispatchOptions,
): Promise<ReplyMessage | ErrorMessage> {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return errorMessage(null, 'bad-message', 'message must be a JSON object {type, id, method, params}');
  }
  const m = msg as Record<string, unknown>;
  const id = idOf(m);
  if (id === null) return errorMessage(null, 'bad-message', 'message has no integer "id"');
  const shape = checkShape(m, { maxDepth: MAX_MESSAGE_DEPTH, maxBytes: MAX_MESSAGE_BYTES });
  if (shape) return errorMessage(id, shape.kind, describeShapeProblem('message', shape));
  if (m.type !== 'request')
    return errorMessage(id, 'bad-message', `message type must be "request", got ${JSON.stringify(m.type)}`);
  if (typeof m.method !== 'string') return errorMessage(id, 'bad-message', 'message has no string "method"');
  const method = m.method;
  // Own properties only: "__proto__" or "toString" must not reach Object.prototype.
  const def = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
  // The name is echoed, but never more than a short prefix of it (a client may send megabytes).
  const shown = method.length > 100 ? `${method.slice(0, 100)}…` : method;
  if (!def) return errorMessage(id, 'unknown-method', `unknown method "${shown}"`);

  const parsed = (def.params as z.ZodType).safeParse(m.params ?? {});
  if (!parsed.success) {
    const own = def.refuse?.(m.params ?? {});
    if (own) return { type: 'error', id, error: toWireError(own) };
    const detail = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(params)'}: ${i.message}`)
      .join('; ');
    return errorMessage(id, 'invalid-params', `${method}: invalid params: ${detail}`);
  }
  try {
    const result = await def.run(parsed.data, ctx);
    return { type: 'reply', id, result: result ?? null };
  } catch (err) {
    // Errors as people read them (Node's file errors in words, no temporary paths): user-errors.ts.
    const wire = toUserError(err, ctx.lib.dataDir);
    if (wire.code === 'internal') opts.onInternalError?.(method, err);
    return { type: 'error', id, error: wire };
  }
}
