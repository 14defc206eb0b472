// Picks the transport. Inside Electron the preload exposes `window.reftStudio` (electron/preload.ts):
// calling connect() makes Electron main send a MessagePort to the backend, which arrives as a
// window 'message' event with data 'reft:port' (a port cannot cross contextBridge itself).
// Anywhere else (a browser pointed at `reft-studio serve`) we open a WebSocket to /rpc on the page's
// own host, passing along the token the page was opened with (page-token.ts moves it out of the
// address bar).

import { RpcClient } from './client.ts';
import { takePageToken } from './page-token.ts';
import {
  MessagePortTransport,
  type PortSource,
  rpcSocketUrl,
  type Transport,
  WebSocketTransport,
} from './transport.ts';

/**
 * The slice of electron/preload.ts's RendererBridge the renderer uses. Declared here rather than
 * imported so the renderer's type check does not pull in Electron's typings.
 */
export interface RendererBridge {
  isElectron: true;
  /** Asks for a (new) port to the backend; it arrives as a window 'message' event 'reft:port'. */
  connect(): void;
  /** The native folder picker (absent in older bridges and in a browser). */
  pickFolder?(opts?: { title?: string; create?: boolean }): Promise<string | null>;
  /** The native file picker, for dataset files (absent in older bridges and in a browser). */
  pickFile?(opts?: { title?: string; kind?: 'dataset' }): Promise<string | null>;
}

declare global {
  interface Window {
    reftStudio?: RendererBridge;
  }
}

function electronPorts(win: Window, bridge: RendererBridge): PortSource {
  return {
    request: () => bridge.connect(),
    onPort: (cb) => {
      win.addEventListener('message', (e: MessageEvent) => {
        // Only the preload (same window) may hand us a port; frames and other windows are ignored.
        if (e.source !== win || e.data !== 'reft:port') return;
        const port = e.ports[0];
        if (port) cb(port);
      });
    },
  };
}

export function createTransport(win: Window = window): Transport {
  const bridge = win.reftStudio;
  if (bridge) return new MessagePortTransport(electronPorts(win, bridge));
  const token = takePageToken(win);
  const url = rpcSocketUrl(win.location, token);
  // `reft-studio serve` answers GET /auth-check?token= with 204 or 401; no answer means it is down.
  const probe = async () => {
    try {
      const r = await win.fetch(`/auth-check?token=${encodeURIComponent(token ?? '')}`, {
        cache: 'no-store',
      });
      return r.status === 401 ? ('refused' as const) : ('ok' as const);
    } catch {
      return 'down' as const;
    }
  };
  return new WebSocketTransport({ url, hasToken: Boolean(token), probe });
}

export function createClient(win: Window = window): RpcClient {
  return new RpcClient(createTransport(win));
}
