// `reft-studio serve`: binding, token and Origin checks on the WebSocket, static files, and the CLI
// refusing a non-loopback host.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { type RunningServer, startServer } from '../../electron/backend/serve.ts';
import { connect, exitOf, fakeRenderer, runCli, spawnServe, tempDir } from './helpers.ts';

const root = tempDir('serve');
let server: RunningServer;
before(async () => {
  server = await startServer({ dataDir: join(root, 'data'), rendererDir: fakeRenderer(root) });
});
after(() => server.close());

function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string; csp: string; cache: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          type: String(res.headers['content-type']),
          body,
          csp: String(res.headers['content-security-policy']),
          cache: String(res.headers['cache-control']),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const rpcUrl = (token: string | null) =>
  `ws://127.0.0.1:${server.port}/rpc${token === null ? '' : `?token=${token}`}`;

test('binds 127.0.0.1 on a random port with a per-launch token in the URL', () => {
  assert.equal(server.host, '127.0.0.1');
  assert.ok(server.port > 0);
  assert.match(server.token ?? '', /^[A-Za-z0-9_-]{32}$/);
  assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`);
});

test('serves index.html and assets with the right MIME types; refuses path traversal', async () => {
  const index = await get('/');
  assert.equal(index.status, 200);
  assert.match(index.type, /^text\/html/);
  assert.match(index.body, /ReFT Studio/);
  // Connections (the RPC's WebSocket included) to this server only: no ws:/wss: to any host.
  assert.match(index.csp, /(^|; )connect-src 'self';/, index.csp);
  assert.match((await get('/assets/app.js')).type, /^text\/javascript/);
  assert.match((await get('/assets/style.css')).type, /^text\/css/);
  assert.equal((await get('/assets/missing.js')).status, 404);
  assert.match((await get('/runs/12')).body, /ReFT Studio/, 'client-side routes get the app');
  for (const p of [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/%5c..%5csecret.txt',
  ]) {
    const r = await get(p);
    assert.notEqual(r.status, 200, p);
    assert.doesNotMatch(r.body, /TOP SECRET/, p);
  }
  assert.equal(
    (await get('/', { Host: 'evil.example:80' })).status,
    421,
    'DNS rebinding: foreign Host refused',
  );
});

test('a response to an address carrying the token is never cached; without it, as before', async () => {
  // The link serve prints: a cached copy would keep its address, token and all, on disk.
  for (const path of [`/?token=${server.token}`, `/runs/12?token=${server.token}`]) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.cache, 'no-store', path);
  }
  assert.equal((await get(`/assets/app.js?token=${server.token}`)).cache, 'no-store');
  assert.equal((await get('/')).cache, 'no-cache');
  assert.equal((await get('/assets/app.js')).cache, 'public, max-age=31536000, immutable');
});

test('WebSocket upgrade: no or wrong token → 401, foreign Origin → 403', async () => {
  await assert.rejects(connect(rpcUrl(null)), { status: 401 });
  await assert.rejects(connect(rpcUrl('wrong')), { status: 401 });
  await assert.rejects(connect(rpcUrl(server.token), { Origin: 'http://evil.example' }), { status: 403 });
  await assert.rejects(connect(rpcUrl(server.token), { Origin: `http://127.0.0.1:${server.port + 1}` }), {
    status: 403,
  });
});

test("a valid client (own Origin) gets 'system/info', and the server survives garbage", async () => {
  const c = await connect(rpcUrl(server.token), { Origin: `http://127.0.0.1:${server.port}` });
  c.ws.send('{ not json');
  c.ws.send(JSON.stringify({ type: 'request', id: 1000, method: 'does/not-exist' }));
  const info = await c.call('system/info');
  assert.equal(info.type, 'reply');
  const result = (info as { result: { version: string; executionProviders: { name: string }[] } }).result;
  assert.equal(result.version, '0.1.0');
  assert.ok(result.executionProviders.some((p) => p.name === 'cpu'));
  const models = await c.call('models/list');
  assert.equal(models.type, 'reply');
  c.close();
});

test('a second WebSocket with a bad frame does not disturb the first', async () => {
  const a = await connect(rpcUrl(server.token));
  const b = new WebSocket(rpcUrl(server.token));
  await new Promise((r) => b.once('open', r));
  b.send(Buffer.from([0xff, 0xfe, 0x00]), { binary: true });
  b.terminate();
  assert.equal((await a.call('settings/get')).type, 'reply');
  a.close();
});

test('the CLI refuses --host 0.0.0.0 without --allow-remote', async () => {
  const r = await runCli(['serve', '--host', '0.0.0.0', '--data-dir', join(root, 'cli-data')]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: refusing to listen on 0\.0\.0\.0.*--allow-remote/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
});

test('--allow-remote warns that the token travels over plain HTTP and what it opens; loopback does not', async () => {
  const s = await spawnServe([
    '--host',
    '0.0.0.0',
    '--allow-remote',
    '--data-dir',
    join(root, 'remote-data'),
    '--renderer-dir',
    join(root, 'dist'),
  ]);
  // Written before the URL line, but stderr is another pipe: wait for it rather than race it.
  for (let i = 0; i < 50 && !/plain HTTP/.test(s.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(
    s.stderr(),
    /^warning: listening on 0\.0\.0\.0, reachable from other machines over plain HTTP/m,
  );
  // The token is the account: the warning says what it opens, not only that it travels readable.
  assert.match(
    s.stderr(),
    /whoever has the token can read your files, write folders and install native code as you/,
  );
  s.child.kill('SIGTERM');
  await exitOf(s.child);
});

test('the CLI prints the URL line and shuts down cleanly on SIGTERM', async () => {
  const s = await spawnServe(['--data-dir', join(root, 'cli-data'), '--renderer-dir', join(root, 'dist')]);
  assert.equal(s.url.hostname, '127.0.0.1');
  assert.ok(s.url.searchParams.get('token'));
  assert.doesNotMatch(s.stderr(), /plain HTTP/);
  s.child.kill('SIGTERM');
  const { code } = await exitOf(s.child);
  assert.equal(code, 0);
});

test('renderer files removed while serving (a rebuild) fail that request, not the server', async () => {
  const own = tempDir('serve-rebuild');
  const dist = fakeRenderer(own);
  const s = await startServer({ dataDir: join(own, 'data'), rendererDir: dist, seedDemo: false });
  try {
    rmSync(join(dist, 'index.html'));
    const status = (path: string) =>
      new Promise<number>((resolve, reject) =>
        request({ host: '127.0.0.1', port: s.port, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end(),
      );
    assert.equal(await status('/runs/12'), 404, 'a client-side route without the app shell');
    assert.equal(await status('/'), 404);
    assert.equal(await status('/assets/app.js'), 200, 'the server still answers');
  } finally {
    await s.close();
  }
});
