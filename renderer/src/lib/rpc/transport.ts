// Two thin transports behind one interface: a WebSocket (the studio in a browser, served by
// `reft-studio serve`) and a MessagePort (Electron, handed over by the preload bridge).
// A transport only moves messages and reports its state; ids, timeouts and pushes live in client.ts.

import type { RequestMessage } from './envelope.ts';

export type TransportState =
  /** First attempt in progress. */
  | 'connecting'
  | 'open'
  /** Was open (or tried), lost the link, retrying. */
  | 'reconnecting'
  /** The server refused us: missing or wrong access token. Not retried without a token. */
  | 'unauthorized'
  /** Given up or closed on purpose. */
  | 'closed';

export interface TransportStatus {
  state: TransportState;
  /** A sentence for people, shown next to the status indicator. */
  detail: string;
}

export interface Transport {
  readonly kind: 'websocket' | 'messageport';
  readonly status: TransportStatus;
  /** Sends when open; returns false (and sends nothing) otherwise. */
  send(msg: RequestMessage): boolean;
  onMessage(cb: (msg: unknown) => void): () => void;
  onStatus(cb: (s: TransportStatus) => void): () => void;
  close(): void;
}

class Listeners<T> {
  #set = new Set<(v: T) => void>();
  add(cb: (v: T) => void): () => void {
    this.#set.add(cb);
    return () => this.#set.delete(cb);
  }
  emit(v: T): void {
    for (const cb of this.#set) {
      try {
        cb(v);
      } catch (err) {
        console.error('[rpc] listener failed', err);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/** What the server says about this page's token: accepted, refused, or no answer (server down). */
export type AuthProbe = () => Promise<'ok' | 'refused' | 'down'>;

export interface WebSocketTransportOptions {
  /** Full ws:// or wss:// URL including the token query. */
  url: string;
  /** False when the page has no token: the server will refuse us, so do not hammer it. */
  hasToken: boolean;
  /**
   * Asked after a failed connection: a browser cannot read why a WebSocket upgrade was refused, so
   * this tells a stopped server from a restarted one that has another token (serve's /auth-check).
   */
  probe?: AuthProbe;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** The RPC WebSocket URL for the page at `loc` (ws for http, wss for https), carrying `token`. */
export function rpcSocketUrl(loc: { protocol: string; host: string }, token: string | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}//${loc.host}/rpc${q}`;
}

export class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  #opts: Required<Omit<WebSocketTransportOptions, 'probe'>> & { probe?: AuthProbe };
  #ws: WebSocket | null = null;
  #everOpened = false;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #status: TransportStatus = { state: 'connecting', detail: 'Connecting to the studio backend…' };
  #messages = new Listeners<unknown>();
  #statuses = new Listeners<TransportStatus>();

  constructor(opts: WebSocketTransportOptions) {
    this.#opts = { minDelayMs: 500, maxDelayMs: 10_000, ...opts };
    this.#connect();
  }

  get status(): TransportStatus {
    return this.#status;
  }

  #setStatus(state: TransportState, detail: string): void {
    this.#status = { state, detail };
    this.#statuses.emit(this.#status);
  }

  #connect(): void {
    if (this.#closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#opts.url);
    } catch (err) {
      this.#setStatus('closed', `Cannot open a connection: ${String(err)}`);
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      this.#everOpened = true;
      this.#failures = 0;
      this.#setStatus('open', 'Connected');
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') this.#messages.emit(ev.data);
    };
    // onerror is always followed by onclose; all handling happens there.
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (this.#closed) return;
      this.#failures++;
      // A browser cannot read the HTTP status of a refused upgrade. The page itself came from
      // the same server, so a socket that never opened almost always means a bad token.
      if (!this.#opts.hasToken) {
        this.#setStatus(
          'unauthorized',
          'This page was opened without its access token. Open the full link printed by `reft-studio serve` (it ends in ?token=…).',
        );
        return;
      }
      // Say "lost" at once; #explain refines it when the server has answered (or not).
      if (this.#status.state === 'open') this.#setStatus('reconnecting', 'Connection lost. Reconnecting…');
      void this.#explain(ev.code);
      const delay = Math.min(this.#opts.maxDelayMs, this.#opts.minDelayMs * 2 ** (this.#failures - 1));
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#connect();
      }, delay);
    };
  }

  /** Says why the link is down, and what to do about it, as precisely as the server lets us know. */
  async #explain(code: number): Promise<void> {
    const probe = this.#opts.probe;
    const why = probe ? await probe().catch(() => 'down' as const) : null;
    if (this.#closed || this.#ws?.readyState === WebSocket.OPEN) return;
    if (why === 'refused' || (why === null && !this.#everOpened && code === 1006)) {
      this.#setStatus(
        'unauthorized',
        this.#everOpened
          ? 'The studio server was restarted with another access token (another data folder, or its serve.json was removed), so this tab can no longer reach it. Open the link `reft-studio serve` printed last (it ends in ?token=…).'
          : 'The backend refused this link’s token. Open the link `reft-studio serve` printed last (it ends in ?token=…).',
      );
    } else if (why === 'down') {
      this.#setStatus(
        'reconnecting',
        'The studio server is not running. Start `reft-studio serve` again with the same data folder: this tab reconnects by itself (same port, same token).',
      );
    } else {
      this.#setStatus('reconnecting', 'Connection lost. Reconnecting…');
    }
  }

  send(msg: RequestMessage): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  onMessage(cb: (msg: unknown) => void): () => void {
    return this.#messages.add(cb);
  }

  onStatus(cb: (s: TransportStatus) => void): () => void {
    return this.#statuses.add(cb);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#ws?.close();
    this.#ws = null;
    this.#setStatus('closed', 'Disconnected');
  }
}

// ---------------------------------------------------------------------------------------------
// MessagePort (Electron)

export interface PortSource {
  /** Asks Electron main for a (new) port to the backend. */
  request(): void;
  /** Registers for every port that arrives; a later port replaces the current one. */
  onPort(cb: (port: MessagePort) => void): void;
  /** How long to wait for the first port before reporting a problem (it may still come). */
  waitMs?: number;
}

export class MessagePortTransport implements Transport {
  readonly kind = 'messageport';
  #port: MessagePort | null = null;
  #status: TransportStatus = { state: 'connecting', detail: 'Waiting for the studio backend…' };
  #messages = new Listeners<unknown>();
  #statuses = new Listeners<TransportStatus>();
  #timer: ReturnType<typeof setTimeout> | null;

  constructor(source: PortSource) {
    source.onPort((p) => this.#attach(p));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#port) this.#setStatus('closed', 'The studio backend did not start. Restart ReFT Studio.');
    }, source.waitMs ?? 15_000);
    source.request();
  }

  get status(): TransportStatus {
    return this.#status;
  }

  #attach(p: MessagePort): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#port) {
      // A replacement (the backend restarted): whatever was in flight on the old port is lost.
      this.#port.onmessage = null;
      this.#port.close();
      this.#setStatus('reconnecting', 'The backend restarted. Reconnecting…');
    }
    this.#port = p;
    p.onmessage = (ev: MessageEvent) => this.#messages.emit(ev.data);
    p.start();
    this.#setStatus('open', 'Connected');
  }

  #setStatus(state: TransportState, detail: string): void {
    this.#status = { state, detail };
    this.#statuses.emit(this.#status);
  }

  send(msg: RequestMessage): boolean {
    if (!this.#port || this.#status.state !== 'open') return false;
    this.#port.postMessage(msg);
    return true;
  }

  onMessage(cb: (msg: unknown) => void): () => void {
    return this.#messages.add(cb);
  }

  onStatus(cb: (s: TransportStatus) => void): () => void {
    return this.#statuses.add(cb);
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#port?.close();
    this.#port = null;
    this.#setStatus('closed', 'Disconnected');
  }
}
