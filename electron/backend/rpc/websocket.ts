// WebSocket transport (server side): each text frame is one request envelope, each reply/push is one
// JSON text frame. Connection authentication (token, Origin) is done by serve.ts before the upgrade.

import type { WebSocket, WebSocketServer } from 'ws';
import type { Backend } from '../host.ts';
import type { ErrorMessage, PushMessage } from './envelope.ts';

function internalReply(id: number | null, message: string): ErrorMessage {
  return { type: 'error', id, error: { type: 'Error', code: 'internal', message } };
}

export function attachWebSocketRpc(wss: WebSocketServer, backend: Backend): () => void {
  const clients = new Set<WebSocket>();
  const unsubscribe = backend.events.onAny((topic, data) => {
    const frame = JSON.stringify({ type: 'push', topic, data } satisfies PushMessage);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(frame);
  });
  wss.on('connection', (ws) => {
    clients.add(ws);
    const gone = new AbortController();
    const closed = () => {
      clients.delete(ws);
      gone.abort();
    };
    ws.on('close', closed);
    // A socket error (client vanished mid-frame) must not become an uncaught exception.
    ws.on('error', closed);
    ws.on('message', (data, isBinary) => {
      const raw = isBinary ? Buffer.from(data as Buffer) : data.toString();
      // handle() never rejects; the catch is the last line of defence so that no message, whatever
      // it holds, can become an unhandled rejection (which would end the process).
      void backend
        .handle(raw, { gone: gone.signal })
        .catch((e: unknown) => internalReply(null, `request failed: ${(e as Error)?.message ?? e}`))
        .then((reply) => {
          if (ws.readyState !== ws.OPEN) return;
          let text: string;
          try {
            text = JSON.stringify(reply);
          } catch (e) {
            text = JSON.stringify(
              internalReply(reply.id, `reply could not be serialized: ${(e as Error).message}`),
            );
          }
          ws.send(text);
        })
        .catch(() => {});
    });
  });
  return unsubscribe;
}
