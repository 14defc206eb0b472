// A download cancelled while the Hub has not answered yet (resolving the repository: its info, the
// file list, the access probe) stops at once. Before, the cancel reached only the file transfers,
// so Ctrl-C on `models download` (or Cancel in the studio) waited out the request's timeout, minutes.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fetchModel } from '../../electron/backend/hub/fetch-model.ts';
import { CancelledError } from '../../native-runtime/errors.ts';
import { tempDir } from '../helpers/temp.ts';

test('a cancel while the Hub has not answered yet ends the download at once', async () => {
  const asked: string[] = [];
  const server = createServer((req) => asked.push(req.url ?? '')); // never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const abort = new AbortController();
    const started = Date.now();
    const download = fetchModel('org/name', {
      access: { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: null },
      cacheDir: join(tempDir('reft-hub-unanswered-'), 'hub'),
      signal: abort.signal,
    });
    while (asked.length === 0) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await assert.rejects(download, CancelledError);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
