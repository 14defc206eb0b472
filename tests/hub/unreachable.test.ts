// A server that cannot be reached is said in words. Node's fetch fails with "fetch failed" and the
// reason as a code in its cause; the window showed "cannot reach https://huggingface.co: ENOTFOUND"
// (the Hub's search, with no network) and the CUDA pack's install "cannot reach api.nuget.org: fetch
// failed". Real requests to a closed port and to a name that cannot resolve (.invalid, RFC 2606).

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { searchModels } from '../../electron/backend/hub/client.ts';
import { networkCause } from '../../native-runtime/network-errors.ts';
import { nugetPackageInfo } from '../../native-runtime/runtime/nuget-download.ts';

/** A local port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('the Hub search and the NuGet registry, unreachable: why, in words, no error code', async () => {
  const port = await closedPort();
  const endpoint = `http://127.0.0.1:${port}`;
  await assert.rejects(searchModels('llama', ['llama'], { access: { endpoint, token: null } }), {
    code: 'unreachable',
    message: `cannot reach ${endpoint}: nothing answers at that address (connection refused)`,
  });
  await assert.rejects(nugetPackageInfo('1.29.0', `${endpoint}/v3/`), {
    code: 'network',
    message: `cannot reach 127.0.0.1:${port}: nothing answers at that address (connection refused)`,
  });
});

test('a name that cannot be looked up says so', async () => {
  const err = await fetch('http://reft-studio-test.invalid/').catch((e: unknown) => e);
  assert.match(networkCause(err), /^its name could not be looked up \(no network connection/);
  assert.equal(
    networkCause(new Error('socket hang up')),
    'socket hang up',
    'an unknown cause keeps its words',
  );
});
