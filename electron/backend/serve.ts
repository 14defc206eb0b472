// `reft-studio serve`: the studio in a normal browser, no Electron needed. One HTTP server serves the
// built renderer (renderer/dist) and the RPC over a WebSocket at /rpc.
// Security model: binds 127.0.0.1 on a random free port by default and refuses a non-loopback host
// without allowRemote. A random token guards it (kept with the port in <data>/serve.json so a restart
// keeps open tabs working; a new one when the port changes, serve-state.ts); the page itself carries no secrets and is
// served without it, but the WebSocket upgrade needs `?token=` (401 otherwise) and, when the browser
// sends an Origin, it must be this server's own (403 otherwise) — so another web page, or a
// DNS-rebinding attack, can reach neither the library nor the engine. Host headers are checked too.

import { timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ValidationError } from '../../native-runtime/errors.ts';
import { type Backend, createBackend } from './host.ts';
import { appRoot } from './paths.ts';
import { MAX_MESSAGE_BYTES } from './rpc/json-shape.ts';
import { attachWebSocketRpc } from './rpc/websocket.ts';
import { holdServeLock, loadServeState, saveServeState, tokenForPort } from './serve-state.ts';

export interface ServeOptions {
  dataDir: string;
  host?: string;
  /** 0 or undefined: a random free port. */
  port?: number;
  allowRemote?: boolean;
  /** Accept WebSocket connections without the token (loopback only). */
  noToken?: boolean;
  rendererDir?: string;
  seedDemo?: boolean;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  token: string | null;
  rendererDir: string;
  rendererMissing: boolean;
  /** Why the token and port could not be kept for the next launch (a full disk), or null. */
  linkNotKept: string | null;
  backend: Backend;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function sameToken(given: string | null, token: string): boolean {
  if (given == null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
  );
  socket.destroy();
}

const MISSING_RENDERER_PAGE = `<!doctype html><meta charset="utf-8"><title>ReFT Studio</title>
<h1>The studio's web UI is not built</h1>
<p>Run <code>npm run build:renderer</code> in the ReFT Studio folder, then reload this page.
The RPC endpoint at <code>/rpc</code> works already.</p>`;

/** Why a host and port cannot be listened on, in words rather than Node's error code. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'another program is listening on that port (choose another with --port)',
  EACCES: 'permission denied (ports below 1024 need administrator rights)',
  EADDRNOTAVAIL: 'no network interface of this computer has that address',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'the host name could not be looked up',
};

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!loopback && !opts.allowRemote) {
    throw new ValidationError(
      'remote-refused',
      `refusing to listen on ${host}: it is reachable from other machines; pass --allow-remote if you mean it`,
    );
  }
  if (!loopback && opts.noToken) {
    throw new ValidationError('remote-refused', '--no-token is only allowed on a loopback host (127.0.0.1)');
  }
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)) {
    throw new ValidationError('bad-port', `port must be an integer 0..65535, got ${opts.port}`);
  }
  const rendererDir = resolve(opts.rendererDir ?? join(appRoot(), 'renderer', 'dist'));
  const rendererMissing = !existsSync(join(rendererDir, 'index.html'));
  const rendererReal = rendererMissing ? rendererDir : realpathSync(rendererDir);
  const saved = loadServeState(opts.dataDir);
  // Settled once the port is known (tokenForPort): nothing is served before.
  let token = opts.noToken ? null : saved.token;

  const backend = createBackend(opts.dataDir, { seedDemo: opts.seedDemo, probeDevices: true });
  // After the backend, which makes a new data folder; before listening, which a second server would
  // do on another port, overwriting the first's in serve.json.
  let releaseLock: () => void;
  try {
    releaseLock = holdServeLock(opts.dataDir, hostForUrl(host));
  } catch (e) {
    await backend.close();
    throw e;
  }
  let port = 0;
  // Allowed Host/Origin values; filled once the port is known.
  const allowedHosts = new Set<string>();

  const hostAllowed = (h: string | undefined) =>
    opts.allowRemote || (h !== undefined && allowedHosts.has(h.toLowerCase()));

  const sendText = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // The link carries the token until the page moves it out of the address (page-token.ts): never
    // leak it in a Referer.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    if (!hostAllowed(req.headers.host)) return sendText(res, 421, 'unexpected Host header');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
    let url: URL;
    let pathname: string;
    try {
      url = new URL(req.url ?? '/', 'http://x');
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return sendText(res, 400, 'bad path');
    }
    if (pathname === '/rpc') return sendText(res, 426, 'the RPC endpoint needs a WebSocket upgrade');
    if (pathname === '/auth-check') {
      const given = url.searchParams.get('token');
      res.writeHead(token === null || sameToken(given, token) ? 204 : 401, { 'Cache-Control': 'no-store' });
      return res.end();
    }
    // The link serve prints carries the token: a cached response would keep that address, token
    // and all, in the browser's disk cache, which page-token.ts keeps it out of history to avoid.
    const cacheable = !url.searchParams.has('token');
    if (pathname.includes('\0') || pathname.includes('\\')) return sendText(res, 400, 'bad path');
    if (rendererMissing) {
      res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(req.method === 'HEAD' ? undefined : MISSING_RENDERER_PAGE);
    }
    let file = resolve(rendererReal, `.${pathname}`);
    const inside = (p: string) => {
      const rel = relative(rendererReal, p);
      return !rel.startsWith('..') && !isAbsolute(rel);
    };
    if (!inside(file)) return sendText(res, 403, 'forbidden');
    let st = existsSync(file) ? statSync(file) : null;
    if (st?.isDirectory()) {
      file = join(file, 'index.html');
      st = existsSync(file) ? statSync(file) : null;
    }
    if (!st) {
      // Client-side routes (no extension) get the app; a missing asset is a plain 404.
      if (extname(pathname)) return sendText(res, 404, 'not found');
      file = join(rendererReal, 'index.html');
      st = statSync(file);
    }
    // A symlink inside dist must not lead outside it.
    if (!inside(realpathSync(file))) return sendText(res, 403, 'forbidden');
    const isHtml = extname(file) === '.html';
    res.writeHead(200, {
      'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': !cacheable
        ? 'no-store'
        : isHtml
          ? 'no-cache'
          : pathname.startsWith('/assets/')
            ? 'public, max-age=31536000, immutable'
            : 'no-cache',
      ...(isHtml
        ? {
            'Content-Security-Policy':
              "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
              // 'self' covers this server's own ws:/wss: (CSP3; tests/e2e/studio.test.ts checks it in
              // Chromium): the page may open a WebSocket to no other host.
              "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
          }
        : {}),
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const server = createServer((req, res) => {
    // A file of renderer/dist can vanish between the checks above and its read (the renderer rebuilt
    // while serving): that request fails, never the process with every open tab and job in it.
    try {
      onRequest(req, res);
    } catch {
      if (res.headersSent) res.destroy();
      else sendText(res, 404, 'not found');
    }
  });
  // A little above dispatch's cap, so a message just over it gets a clear 'too-large' reply; past
  // this, ws closes the connection (1009) without buffering more.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES + 1024 * 1024 });
  const unsubscribe = attachWebSocketRpc(wss, backend);

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return rejectUpgrade(socket, 400, 'Bad Request');
    }
    if (url.pathname !== '/rpc') return rejectUpgrade(socket, 404, 'Not Found');
    if (token && !sameToken(url.searchParams.get('token'), token))
      return rejectUpgrade(socket, 401, 'Unauthorized');
    const origin = req.headers.origin;
    // Browsers always send Origin on WebSocket upgrades; non-browser clients (CLI, tests) may omit it.
    if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        const o = new URL(origin);
        originHost = o.protocol === 'http:' ? o.host : null;
      } catch {}
      const ok =
        originHost !== null &&
        (allowedHosts.has(originHost.toLowerCase()) || (opts.allowRemote && originHost === req.headers.host));
      if (!ok) return rejectUpgrade(socket, 403, 'Forbidden');
    }
    if (!hostAllowed(req.headers.host)) return rejectUpgrade(socket, 403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  // The port of the last try, for the refusal: 0 asks the system for any free one.
  let tried = 0;
  const listen = (p: number) =>
    new Promise<void>((res, rej) => {
      tried = p;
      server.once('error', rej);
      server.listen(p, host, () => {
        server.off('error', rej);
        res();
      });
    });
  try {
    // Without --port, the port of the last launch first (open tabs point there), else a free one.
    if (opts.port === undefined && saved.port !== null) {
      try {
        await listen(saved.port);
      } catch (e) {
        if (
          (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' &&
          (e as NodeJS.ErrnoException).code !== 'EACCES'
        )
          throw e;
        await listen(0);
      }
    } else {
      await listen(opts.port ?? 0);
    }
  } catch (e) {
    await backend.close();
    releaseLock();
    const code = (e as NodeJS.ErrnoException).code;
    const why = (code && LISTEN_ERRORS[code]) ?? code ?? (e as Error).message;
    // "host:0" read as a port that was tried; a free port was asked for, so none is named.
    const where = tried ? `${hostForUrl(host)}:${tried}` : `${host} (on any free port)`;
    throw new ValidationError('listen-failed', `cannot listen on ${where}: ${why}`);
  }
  port = (server.address() as AddressInfo).port;
  let linkNotKept: string | null = null;
  if (token !== null) {
    token = tokenForPort(saved, port);
    // Unchanged, serve.json already holds them: a full disk need not refuse their rewrite.
    if (token !== saved.token || port !== saved.port)
      linkNotKept = saveServeState(opts.dataDir, { token, port });
  }
  for (const h of ['127.0.0.1', 'localhost', '[::1]', hostForUrl(host)])
    allowedHosts.add(`${h}:${port}`.toLowerCase());

  const url = `http://${hostForUrl(host)}:${port}/${token ? `?token=${token}` : ''}`;
  let closing: Promise<void> | null = null;
  return {
    url,
    host,
    port,
    token,
    rendererDir,
    rendererMissing,
    linkNotKept,
    backend,
    close() {
      closing ??= (async () => {
        unsubscribe();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        await backend.close();
        releaseLock();
      })();
      return closing;
    },
  };
}
