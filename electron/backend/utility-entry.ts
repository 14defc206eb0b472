// Entry of the Electron utilityProcess that hosts the backend (SQLite, and later onnxruntime-node,
// whose synchronous calls must never block Electron's main process). Main sends
//   {type: 'connect'} with a MessagePort in `ports`  → the backend is served on that port (one per window)
//   {type: 'shutdown'}                               → close the database and exit
// and hears back {type: 'ready', dataDir} or {type: 'fatal', error}. This file does not import
// electron: parentPort and MessagePortMain are used through the small interfaces below.

import { toWireError } from '../../native-runtime/errors.ts';
import { type Backend, createBackend } from './host.ts';
import { resolveDataDir } from './paths.ts';
import { type MinimalPort, serveMessagePort } from './rpc/messageport.ts';

interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown; ports: MinimalPort[] }) => void): unknown;
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (!parentPort) {
  console.error(
    'utility-entry must be started by Electron (utilityProcess.fork); use `reft-studio serve` otherwise',
  );
  process.exit(1);
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

let backend: Backend | null = null;
try {
  backend = createBackend(resolveDataDir(argValue('--data-dir')), { probeDevices: true });
  parentPort.postMessage({ type: 'ready', dataDir: backend.dataDir });
} catch (e) {
  // Out-of-sync migrations, a corrupt database...: main shows this to the user and quits.
  parentPort.postMessage({ type: 'fatal', error: toWireError(e) });
}

parentPort.on('message', (event) => {
  const msg = event.data as { type?: string } | null;
  if (msg?.type === 'connect' && backend && event.ports[0]) {
    serveMessagePort(event.ports[0], backend);
  } else if (msg?.type === 'shutdown') {
    void (backend?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  }
});

// A bug in one request must not take the library down with it; log and keep serving.
process.on('uncaughtException', (e) => console.error('uncaught exception in backend:', e));
process.on('unhandledRejection', (e) => console.error('unhandled rejection in backend:', e));
