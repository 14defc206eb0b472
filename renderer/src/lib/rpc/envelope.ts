// The wire envelope shared with the backend (electron/backend/rpc). Client -> server is always a
// request; server -> client is a reply, an error (both echo the request id) or a push on a topic.
// Messages are parsed defensively: anything malformed is dropped, never thrown into the UI.

// The message types are the backend's own (type-only import: no backend code reaches the page).
import type {
  ErrorMessage,
  PushMessage,
  ReplyMessage,
  RequestMessage,
  ServerMessage,
} from '../../../../electron/backend/rpc/envelope.ts';
import { errorDetails, type WireError } from '../../../../native-runtime/errors.ts';

export type { ErrorMessage, PushMessage, ReplyMessage, RequestMessage, ServerMessage, WireError };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toWireError(v: unknown): WireError {
  if (!isRecord(v)) return { type: 'Error', code: 'internal', message: String(v) };
  const details = errorDetails(v.details);
  return {
    type: typeof v.type === 'string' ? v.type : 'Error',
    code: typeof v.code === 'string' ? v.code : 'internal',
    message: typeof v.message === 'string' ? v.message : 'Unknown error',
    ...(typeof v.field === 'string' ? { field: v.field } : {}),
    ...(details ? { details } : {}),
  };
}

/** Parses one incoming message (already JSON-decoded, or a JSON string). Returns null if malformed. */
export function parseServerMessage(raw: unknown): ServerMessage | null {
  let v = raw;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return null;
    }
  }
  if (!isRecord(v)) return null;
  switch (v.type) {
    case 'reply':
      return typeof v.id === 'number' ? { type: 'reply', id: v.id, result: v.result } : null;
    case 'error':
      return {
        type: 'error',
        id: typeof v.id === 'number' ? v.id : null,
        error: toWireError(v.error),
      };
    case 'push':
      return typeof v.topic === 'string' ? { type: 'push', topic: v.topic, data: v.data } : null;
    default:
      return null;
  }
}
