// Electron's MessagePortMain stood in by node's MessagePort (worker_threads), for tests of the
// MessagePort transport (electron/backend/rpc/messageport.ts) without Electron.

import type { MessagePort } from 'node:worker_threads';
import type { MinimalPort } from '../../electron/backend/rpc/messageport.ts';

/** node's MessagePort as Electron's MessagePortMain, whose 'message' listeners get {data}. */
export function electronLike(port: MessagePort): MinimalPort {
  return {
    postMessage: (m) => port.postMessage(m),
    on: (event: 'message' | 'close', l: (ev: { data: unknown }) => void) =>
      event === 'message'
        ? port.on('message', (data) => l({ data }))
        : port.on('close', () => l({ data: null })),
  } as MinimalPort;
}
