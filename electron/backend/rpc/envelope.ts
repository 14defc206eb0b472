// The one message envelope shared by every transport (WebSocket, Electron MessagePort).
//   client → server: request {id, method, params}
//   server → client: reply {id, result} | error {id, error} | push {topic, data}
// `id` is chosen by the client and echoed back. An error about a message that could not be read at
// all (malformed JSON, not an object, no id) carries `id: null`.

import type { WireError } from '../../../native-runtime/errors.ts';

export interface RequestMessage {
  type: 'request';
  id: number;
  method: string;
  params: unknown;
}

export interface ReplyMessage {
  type: 'reply';
  id: number;
  result: unknown;
}

export interface ErrorMessage {
  type: 'error';
  id: number | null;
  error: WireError;
}

export interface PushMessage {
  type: 'push';
  topic: string;
  data: unknown;
}

export type ClientMessage = RequestMessage;
export type ServerMessage = ReplyMessage | ErrorMessage | PushMessage;
export type Envelope = ClientMessage | ServerMessage;

export function errorMessage(
  id: number | null,
  code: string,
  message: string,
  type = 'ValidationError',
): ErrorMessage {
  return { type: 'error', id, error: { type, code, message } };
}
