// MessagePort transport: serves the backend on an Electron MessagePortMain (or the utility process's
// parentPort, or a worker_threads port). Written against a minimal port interface so this file
// doesn't import electron. Messages are structured-clone objects, not JSON text.

import type { Backend } from '../host.ts';
import type { PushMessage, ServerMessage } from './envelope.ts';

export interface MinimalPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  /** The other end went away (Electron's MessagePortMain and node's MessagePort both say so). */
  on(event: 'close', listener: () => void): unknown;
  start?(): void;
}

/** Posts a message; one that cannot be cloned (a function, a class instance) becomes an error reply. */
function safePost(port: MinimalPort, msg: ServerMessage): void {
  try {
    port.postMessage(msg);
  } catch (e) {
    if (msg.type === 'push') return;
    port.postMessage({
      type: 'error',
      id: msg.id,
      error: { type: 'Error', code: 'internal', message: `reply could not be sent: ${(e as Error).message}` },
    } satisfies ServerMessage);
  }
}

export function serveMessagePort(port: MinimalPort, backend: Backend): () => void {
  const unsubscribe = backend.events.onAny((topic, data) =>
    safePost(port, { type: 'push', topic, data } satisfies PushMessage),
  );
  const gone = new AbortController();
  port.on('message', (event) => {
    // handle() never rejects; the catches make sure no message can become an unhandled rejection.
    void backend
      .handle(event?.data, { gone: gone.signal })
      .catch(
        (e: unknown): ServerMessage => ({
          type: 'error',
          id: null,
          error: {
            type: 'Error',
            code: 'internal',
            message: `request failed: ${(e as Error)?.message ?? e}`,
          },
        }),
      )
      .then((reply) => safePost(port, reply))
      .catch(() => {});
  });
  // A window that reloads or closes takes a new port: the old one must not stay subscribed, posted
  // every push (each training step, each generated token) for nobody, one more per reload; nor
  // may what only its requests wait for (a Playground answer) go on.
  port.on('close', () => {
    unsubscribe();
    gone.abort();
  });
  port.start?.();
  return unsubscribe;
}
