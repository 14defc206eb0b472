// Electron main process, kept thin: one window (contextIsolation, sandbox, no Node in the page), the
// backend in a utilityProcess (SQLite and ONNX Runtime block; they must not block this process), a
// MessageChannelMain per page connection whose ends go to the utility process and to the page, the
// app menu and the lifecycle. The renderer is served from renderer/dist over an `app://studio` scheme
// (absolute asset paths work, and the page gets a real origin); VITE_DEV_SERVER_URL loads a dev server.

import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  MessageChannelMain,
  net,
  protocol,
  shell,
  type UtilityProcess,
  utilityProcess,
} from 'electron';
import { engineEnv } from '../native-runtime/runtime/cuda-pack.ts';
import { resolveDataDir } from './backend/paths.ts';

const APP_ORIGIN = 'app://studio';
const appRoot = app.getAppPath();
const rendererDir = join(appRoot, 'renderer', 'dist');

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

let backend: UtilityProcess | null = null;
let mainWindow: BrowserWindow | null = null;
let quitting = false;

function dataDirArgs(): string[] {
  const i = process.argv.indexOf('--data-dir');
  return i >= 0 && process.argv[i + 1] ? ['--data-dir', process.argv[i + 1]] : [];
}

/** The backend's environment: with the CUDA pack's library path when one is installed (cuda-pack.ts). */
function backendEnv(): NodeJS.ProcessEnv {
  try {
    return engineEnv(resolveDataDir(dataDirArgs()[1])) ?? process.env;
  } catch {
    return process.env;
  }
}

function startBackend(): UtilityProcess {
  const child = utilityProcess.fork(join(__dirname, 'utility-entry.cjs'), dataDirArgs(), {
    serviceName: 'ReFT Studio backend',
    stdio: 'inherit',
    env: backendEnv(),
  });
  child.on('message', (msg: { type?: string; error?: { message: string } }) => {
    if (msg?.type === 'fatal') {
      dialog.showErrorBox('ReFT Studio cannot open its library', msg.error?.message ?? 'unknown error');
      app.quit();
    }
  });
  child.on('exit', (code) => {
    if (quitting) return;
    dialog.showErrorBox(
      'ReFT Studio backend stopped',
      `The backend process exited (code ${code}). The app will close.`,
    );
    app.quit();
  });
  return child;
}

function serveRenderer(): void {
  protocol.handle('app', (request) => {
    const url = new URL(request.url);
    const file = resolve(rendererDir, `.${decodeURIComponent(url.pathname)}`);
    const rel = relative(rendererDir, file);
    if (rel.startsWith('..') || isAbsolute(rel)) return new Response('forbidden', { status: 403 });
    // Client-side routes fall back to the app shell.
    const target = existsSync(file) && rel !== '' ? file : join(rendererDir, 'index.html');
    return net.fetch(pathToFileURL(target).toString());
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'ReFT Studio',
    show: false,
    webPreferences: {
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // External links open in the browser; the studio window never navigates away from the app.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (!url.startsWith(APP_ORIGIN) && !url.startsWith(process.env.VITE_DEV_SERVER_URL ?? '\0'))
      e.preventDefault();
  });
  const dev = process.env.VITE_DEV_SERVER_URL;
  void (dev ? win.loadURL(dev) : win.loadURL(`${APP_ORIGIN}/index.html`));
  return win;
}

/** The page asked for a backend connection: one channel, one end each. */
ipcMain.on('reft:connect', (event) => {
  if (!backend) return;
  const origin = event.senderFrame?.origin ?? '';
  const allowed = origin === APP_ORIGIN || (process.env.VITE_DEV_SERVER_URL ?? '').startsWith(origin || '\0');
  if (!allowed) return;
  const { port1, port2 } = new MessageChannelMain();
  backend.postMessage({ type: 'connect' }, [port1]);
  event.sender.postMessage('reft:port', null, [port2]);
});

/**
 * The native folder picker (exports to a folder, import of a folder by path): only for the studio's
 * own page; returns the chosen folder or null when cancelled.
 */
ipcMain.handle('reft:pick-folder', async (event, opts: { title?: string; create?: boolean } | undefined) => {
  const origin = event.senderFrame?.origin ?? '';
  const allowed = origin === APP_ORIGIN || (process.env.VITE_DEV_SERVER_URL ?? '').startsWith(origin || '\0');
  const win = BrowserWindow.fromWebContents(event.sender);
  if (!allowed || !win) return null;
  const r = await dialog.showOpenDialog(win, {
    title: typeof opts?.title === 'string' ? opts.title.slice(0, 200) : 'Choose a folder',
    properties: opts?.create ? ['openDirectory', 'createDirectory'] : ['openDirectory'],
  });
  return r.canceled ? null : (r.filePaths[0] ?? null);
});

/** Dataset files the native file picker offers (the formats library/dataset-formats.ts reads). */
const DATASET_FILTERS = [
  { name: 'Datasets', extensions: ['jsonl', 'ndjson', 'json', 'csv', 'parquet'] },
  { name: 'All files', extensions: ['*'] },
];

/** The native file picker (a dataset to import by path): only for the studio's own page. */
ipcMain.handle('reft:pick-file', async (event, opts: { title?: string } | undefined) => {
  const origin = event.senderFrame?.origin ?? '';
  const allowed = origin === APP_ORIGIN || (process.env.VITE_DEV_SERVER_URL ?? '').startsWith(origin || '\0');
  const win = BrowserWindow.fromWebContents(event.sender);
  if (!allowed || !win) return null;
  const r = await dialog.showOpenDialog(win, {
    title: typeof opts?.title === 'string' ? opts.title.slice(0, 200) : 'Choose a file',
    properties: ['openFile'],
    filters: DATASET_FILTERS,
  });
  return r.canceled ? null : (r.filePaths[0] ?? null);
});

function buildMenu(): void {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        {
          label: 'Open Data Folder',
          click: () => void shell.openPath(app.getPath('userData')),
        },
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });
  void app.whenReady().then(() => {
    serveRenderer();
    buildMenu();
    backend = startBackend();
    mainWindow = createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
    });
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('before-quit', () => {
    quitting = true;
    // Let the backend close SQLite cleanly; kill it if it doesn't within 3 s.
    const child = backend;
    if (child) {
      child.postMessage({ type: 'shutdown' });
      setTimeout(() => child.kill(), 3000).unref();
    }
  });
}
