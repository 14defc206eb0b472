// Unit tests of the renderer's RPC client (renderer/src/lib/rpc) against a fake transport: ids and
// replies, error envelopes, timeouts, the outbox while disconnected, pushes, and refusal when the
// backend rejected the token. Plus the chart axis helpers. No browser needed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RpcClient, RpcError } from '../../renderer/src/lib/rpc/client.ts';
import { parseServerMessage, type RequestMessage } from '../../renderer/src/lib/rpc/envelope.ts';
import { takePageToken } from '../../renderer/src/lib/rpc/page-token.ts';
import {
  rpcSocketUrl,
  type Transport,
  type TransportState,
  type TransportStatus,
} from '../../renderer/src/lib/rpc/transport.ts';

class FakeTransport implements Transport {
  readonly kind = 'websocket';
  status: TransportStatus = { state: 'connecting', detail: '' };
  sent: RequestMessage[] = [];
  #onMessage = new Set<(m: unknown) => void>();
  #onStatus = new Set<(s: TransportStatus) => void>();

  send(msg: RequestMessage): boolean {
    if (this.status.state !== 'open') return false;
    this.sent.push(msg);
    return true;
  }
  onMessage(cb: (m: unknown) => void) {
    this.#onMessage.add(cb);
    return () => this.#onMessage.delete(cb);
  }
  onStatus(cb: (s: TransportStatus) => void) {
    this.#onStatus.add(cb);
    return () => this.#onStatus.delete(cb);
  }
  close() {
    this.set('closed');
  }
  set(state: TransportState) {
    this.status = { state, detail: state };
    for (const cb of this.#onStatus) cb(this.status);
  }
  deliver(msg: unknown) {
    for (const cb of this.#onMessage) cb(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
}

function openClient(timeoutMs = 1000) {
  const t = new FakeTransport();
  t.set('open');
  return { t, rpc: new RpcClient(t, { timeoutMs }) };
}

describe('RpcClient', () => {
  test('matches replies to requests by id, in any order', async () => {
    const { t, rpc } = openClient();
    const a = rpc.call('models/list');
    const b = rpc.call('runs/get', { id: 7 });
    assert.deepEqual(
      t.sent.map((m) => [m.type, m.method, m.params]),
      [
        ['request', 'models/list', {}],
        ['request', 'runs/get', { id: 7 }],
      ],
    );
    const [ida, idb] = t.sent.map((m) => m.id);
    assert.notEqual(ida, idb);
    t.deliver({ type: 'reply', id: idb, result: { id: 7, metrics: [] } });
    t.deliver({ type: 'reply', id: ida, result: [] });
    assert.deepEqual(await a, []);
    assert.deepEqual(await b, { id: 7, metrics: [] });
    assert.equal(rpc.pendingCount, 0);
  });

  test('an error envelope rejects with an RpcError carrying type and code', async () => {
    const { t, rpc } = openClient();
    const p = rpc.call('runs/start', { modelId: 1, datasetId: 1 });
    t.deliver({
      type: 'error',
      id: t.sent[0]?.id,
      error: { type: 'ValidationError', code: 'unknown-method', message: 'unknown method "runs/start"' },
    });
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, 'unknown-method');
      assert.equal(e.type, 'ValidationError');
      assert.equal(e.message, 'unknown method "runs/start"');
      return true;
    });
  });

  // What these say is shown to the user under "Could not …": plain words, no method name.
  test('a call without an answer times out', async () => {
    const { rpc } = openClient(30);
    await assert.rejects(rpc.call('system/info'), {
      code: 'timeout',
      message: 'The studio did not answer within 1 s. Try again.',
    });
    assert.equal(rpc.pendingCount, 0);
  });

  // "Measure speed" and a Playground answer take as long as the model makes them: a 1.1B model's
  // measurement on a loaded 2-core CPU ran past the 5 minutes it was given ("did not answer within
  // 300 s") while it went on in the backend, and a long answer at 8B runs past 10 minutes.
  test('a call with no deadline (timeoutMs: null) waits past the default; a dropped link still fails it', async () => {
    const { t, rpc } = openClient(20);
    const slow = rpc.callWith('runs/get', { id: 1 }, { timeoutMs: null });
    const dropped = rpc.callWith('runs/get', { id: 2 }, { timeoutMs: null });
    let settled = false;
    slow.finally(() => (settled = true)).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, 'no deadline fired');
    t.deliver({ type: 'reply', id: t.sent[0]?.id, result: { id: 1 } });
    assert.deepEqual(await slow, { id: 1 });
    t.set('reconnecting');
    await assert.rejects(dropped, { code: 'disconnected' });
    assert.equal(rpc.pendingCount, 0);
  });

  test('calls made while connecting wait in the outbox and go out on open', async () => {
    const t = new FakeTransport();
    const rpc = new RpcClient(t, { timeoutMs: 1000 });
    const p = rpc.call('models/list');
    assert.equal(t.sent.length, 0);
    t.set('open');
    assert.equal(t.sent.length, 1);
    t.deliver({ type: 'reply', id: t.sent[0]?.id, result: ['m'] });
    assert.deepEqual(await p, ['m']);
  });

  test('calls made while the link is down are counted as waiting until sent, or given up', async () => {
    // Bug: the window showed nothing while an action waited for the link, so it seemed to do nothing.
    const { t, rpc } = openClient(50);
    const seen: number[] = [];
    rpc.onWaiting((n) => seen.push(n));
    t.set('reconnecting');
    const sent = rpc.callWith(
      'datasets/annotate',
      { datasetId: 1, indices: [0], rating: 3 },
      { timeoutMs: 5000 },
    );
    const given = rpc.call('models/list');
    assert.equal(rpc.waitingCount, 2);
    await assert.rejects(given, {
      code: 'timeout',
      message: 'Not done: the studio could not be reached for 1 s. Try again once it is back.',
    });
    assert.equal(rpc.waitingCount, 1);
    t.set('open');
    assert.equal(rpc.waitingCount, 0);
    assert.deepEqual(seen, [1, 2, 1, 0]);
    t.deliver({ type: 'reply', id: t.sent[0]?.id, result: [] });
    assert.deepEqual(await sent, []);
  });

  test('requests on the wire fail when the link drops', async () => {
    const { t, rpc } = openClient();
    const p = rpc.call('models/list');
    t.set('reconnecting');
    await assert.rejects(p, {
      code: 'disconnected',
      message: 'The connection to the studio was lost before it answered. Try again once it is back.',
    });
  });

  test('refused token: queued and new calls fail at once instead of hanging', async () => {
    const t = new FakeTransport();
    const rpc = new RpcClient(t, { timeoutMs: 5000 });
    const queued = rpc.call('models/list');
    t.set('unauthorized');
    await assert.rejects(queued, { code: 'unauthorized' });
    await assert.rejects(rpc.call('system/info'), { code: 'unauthorized' });
  });

  test('pushes reach topic subscribers until they unsubscribe; junk is ignored', () => {
    const { t, rpc } = openClient();
    const got: unknown[] = [];
    const off = rpc.subscribe('jobs/progress', (d) => got.push(d));
    t.deliver({ type: 'push', topic: 'jobs/progress', data: { runId: 1 } });
    t.deliver({ type: 'push', topic: 'library/changed', data: {} });
    t.deliver('{not json');
    t.deliver({ type: 'reply', id: 999, result: 1 });
    off();
    t.deliver({ type: 'push', topic: 'jobs/progress', data: { runId: 2 } });
    assert.deepEqual(got, [{ runId: 1 }]);
  });
});

describe('envelope and transport helpers', () => {
  test('parseServerMessage accepts the three server messages and rejects the rest', () => {
    assert.deepEqual(parseServerMessage('{"type":"reply","id":1,"result":2}'), {
      type: 'reply',
      id: 1,
      result: 2,
    });
    assert.equal(
      parseServerMessage({ type: 'error', id: null, error: { code: 'bad-message' } })?.type,
      'error',
    );
    assert.equal(parseServerMessage({ type: 'push', topic: 't', data: 1 })?.type, 'push');
    assert.equal(parseServerMessage({ type: 'request', id: 1 }), null);
    assert.equal(parseServerMessage({ type: 'reply' }), null);
    assert.equal(parseServerMessage('nope'), null);
  });

  test("an error's details reach the RpcError in the shape the page reads, anything else dropped", () => {
    const error = (details: unknown) => {
      const m = parseServerMessage({ type: 'error', id: 1, error: { code: 'c', message: 'm', details } });
      return m?.type === 'error' ? new RpcError(m.error).details : 'not an error';
    };
    const columns = ['Q (asked, politely)', 'A, in full)'];
    assert.deepEqual(error({ columns, mapping: { messages: columns[1] } }), {
      columns,
      mapping: { messages: columns[1] },
    });
    assert.deepEqual(error({ columns: [1, 'a'], mapping: { prompt: 'a' } }), {});
    assert.equal(error('text'), undefined);
  });

  test('rpcSocketUrl carries the page token to /rpc on the same host', () => {
    assert.equal(
      rpcSocketUrl({ protocol: 'http:', host: '127.0.0.1:5000' }, 'a b'),
      'ws://127.0.0.1:5000/rpc?token=a%20b',
    );
    assert.equal(rpcSocketUrl({ protocol: 'https:', host: 'h' }, null), 'wss://h/rpc');
  });

  test('the page token leaves the address bar for this tab’s sessionStorage; a reload finds it there', () => {
    const kept = new Map<string, string>();
    const page = {
      location: { href: 'http://127.0.0.1:5000/?token=a+b&x=1#/runs/3' },
      history: {
        state: { s: 1 },
        replaceState(data: unknown, _unused: string, url: string) {
          assert.deepEqual(data, { s: 1 }, 'the history entry keeps its state');
          page.location.href = new URL(url, page.location.href).href;
        },
      },
      sessionStorage: {
        getItem: (k: string) => kept.get(k) ?? null,
        setItem: (k: string, v: string) => void kept.set(k, v),
      },
    };
    assert.equal(takePageToken(page), 'a b');
    assert.equal(
      page.location.href,
      'http://127.0.0.1:5000/?x=1#/runs/3',
      'the route and other parameters stay',
    );
    assert.equal(takePageToken(page), 'a b', 'a reload of the tab');
    // A newer link (the server restarted with another token) wins over the kept one.
    page.location.href = 'http://127.0.0.1:5000/?token=new';
    assert.equal(takePageToken(page), 'new');
    assert.equal(page.location.href, 'http://127.0.0.1:5000/');
    assert.equal(takePageToken(page), 'new');
    // Storage turned off: the token lives for this load only, and the address is still cleaned.
    const off = {
      ...page,
      sessionStorage: {
        getItem: (): string | null => {
          throw new Error('SecurityError');
        },
        setItem: () => {
          throw new Error('SecurityError');
        },
      },
    };
    off.location.href = 'http://h/?token=t';
    assert.equal(takePageToken(off), 't');
    assert.equal(off.location.href, 'http://h/');
    assert.equal(takePageToken(off), null);
  });
});
