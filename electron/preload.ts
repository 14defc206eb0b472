// Preload (sandboxed, contextIsolation on): exposes one small object, window.reftStudio, and hands
// the backend's MessagePort to the page. A MessagePort cannot cross contextBridge, so the page asks
// for it and receives it with window.postMessage:
//   window.addEventListener('message', (e) => {
//     if (e.source === window && e.data === 'reft:port') { const port = e.ports[0]; port.onmessage = ...; }
//   });
//   window.reftStudio.connect();
// Then requests/replies on the port use the envelope in electron/backend/rpc/envelope.ts.

import { contextBridge, ipcRenderer } from 'electron';

export interface RendererBridge {
  isElectron: true;
  platform: string;
  versions: { electron: string; chrome: string; node: string };
  /** Asks for a (new) MessagePort to the backend; it arrives as a window 'message' event 'reft:port'. */
  connect(): void;
  /** The native folder picker; resolves with the chosen folder, or null when cancelled. */
  pickFolder(opts?: { title?: string; create?: boolean }): Promise<string | null>;
  /** The native file picker (dataset files); resolves with the chosen file, or null when cancelled. */
  pickFile(opts?: { title?: string; kind?: 'dataset' }): Promise<string | null>;
}

ipcRenderer.on('reft:port', (event) => {
  // Only to this page's own origin: a cross-origin frame must never get the backend.
  window.postMessage(
    'reft:port',
    window.location.origin === 'null' ? '*' : window.location.origin,
    event.ports,
  );
});

const bridge = {
  isElectron: true,
  platform: process.platform,
  versions: {
    electron: process.versions.electron ?? '',
    chrome: process.versions.chrome ?? '',
    node: process.versions.node ?? '',
  },
  connect: () => ipcRenderer.send('reft:connect'),
  pickFolder: (opts?: { title?: string; create?: boolean }) =>
    ipcRenderer.invoke('reft:pick-folder', opts) as Promise<string | null>,
  pickFile: (opts?: { title?: string; kind?: 'dataset' }) =>
    ipcRenderer.invoke('reft:pick-file', opts) as Promise<string | null>,
} satisfies RendererBridge;

contextBridge.exposeInMainWorld('reftStudio', bridge);
