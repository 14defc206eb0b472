// A server that cannot be reached is said in words. Node's fetch fails with "fetch failed" and the
// reason as a code in its cause; the window showed "cannot reach https://huggingface.co: ENOTFOUND"
// (the Hub's search, with no network) and the CUDA pack's install "cannot reach api.nuget.org: fetch
// failed". Real requests to a closed port and to a name that cannot resolve (.invalid, RFC 2606).

import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { searchModels } from '../../electron/backend/hub/client.ts';
import { networkCause } from '../../native-runtime/network-errors.ts';
import {
  downloadNugetPackage,
  NUGET_PACKAGE,
  nugetPackageInfo,
} from '../../native-runtime/runtime/nuget-download.ts';
import { tempDir } from '../helpers/temp.ts';

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
  await assert.rejects(searchModels('llama', { access: { endpoint, token: null } }), {
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

test('the CUDA pack itself, unreachable or cut off mid-download: why, in words', async () => {
  // The registry answers; the package's own address is a closed port, then a server that cuts the
  // connection after 100 of 1000 bytes. Both said "fetch failed" / "terminated" (undici's words).
  const closed = await closedPort();
  let packageUrl = `http://127.0.0.1:${closed}/p.nupkg`;
  const server = createHttpServer((req, res) => {
    if (req.url?.endsWith('.nupkg')) {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(100), () => setTimeout(() => res.destroy(), 100));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        packageContent: packageUrl,
        catalogEntry: { packageHash: 'x', packageHashAlgorithm: 'SHA512', packageSize: 1000 },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const source = `http://127.0.0.1:${(server.address() as { port: number }).port}/reg/`;
  try {
    await assert.rejects(downloadNugetPackage(tempDir('unreachable-nuget-'), '1.0.0', { source }), {
      code: 'network',
      message: `cannot download ${packageUrl}: nothing answers at that address (connection refused)`,
    });
    packageUrl = source.replace('/reg/', '/p.nupkg');
    await assert.rejects(downloadNugetPackage(tempDir('unreachable-nuget-'), '1.0.0', { source }), {
      code: 'interrupted',
      message: `the download of ${NUGET_PACKAGE} 1.0.0 was interrupted (the connection was cut); run the same command again to resume`,
    });
  } finally {
    server.close();
  }
});
