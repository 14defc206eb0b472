// WebSocket transport (server side): each text frame is one request envelope, each reply/push is one
// JSON text frame. Connection authentication (token, Origin) is done by serve.ts before the upgrade.

import type { WebSocket, WebSocketServer } from 'ws';
import type { Backend } from '../host.ts';
import type { PushMessage } from './envelope.ts';

export function attachWebSocketRpc(wss: WebSocketServer, backend: Backend): () => void {
  const clients = new Set<WebSocket>();
  const unsubscribe = backend.events.onAny((topic, data) => {
    const frame = JSON.stringify({ type: 'push', topic, data } satisfies PushMessage);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(frame);
  });
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    // A socket error (client vanished mid-frame) must not become an uncaught exception.
    ws.on('error', () => clients.delete(ws));
    ws.on('message', (data, isBinary) => {
      const raw = isBinary ? Buffer.from(data as Buffer) : data.toString();
      void backend.handle(raw).then((reply) => {
        if (ws.readyState !== ws.OPEN) return;
        let text: string;
        try {
          text = JSON.stringify(reply);
        } catch (e) {
          text = JSON.stringify({
            type: 'error',
            id: reply.id,
            error: {
              type: 'Error',
              code: 'internal',
              message: `reply could not be serialized: ${(e as Error).message}`,
            },
          });
        }
        ws.send(text);
      });
    });
  });
  return unsubscribe;
}
