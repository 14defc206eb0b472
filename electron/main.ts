// Electron main process, kept thin: one window (contextIsolation, sandbox, no Node in the page), the
// backend in a utilityProcess (SQLite and ONNX Runtime block; they must not block this process), a
// MessageChannelMain per page connection whose ends go to the utility process and to the page, the
// app menu and the lifecycle. The renderer is served from renderer/dist over an `app://studio` scheme
// (absolute asset paths work, and the page gets a real origin); VITE_DEV_SERVER_URL loads a dev server
// when the app is not packaged (ipc-rules.ts devServerUrl).

import { join } from 'node:path';
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
  session,
  shell,
  type UtilityProcess,
  utilityProcess,
} from 'electron';
import { engineEnv } from '../native-runtime/runtime/cuda-pack.ts';
import { electronSettingsDir, resolveDataDir } from './backend/paths.ts';
import {
  APP_ORIGIN,
  devServerUrl,
  filePickerOptions,
  folderPickerOptions,
  isStudioOrigin,
  isStudioUrl,
  permissionAllowed,
  rendererFile,
} from './ipc-rules.ts';

const DEV_URL = devServerUrl(process.env, app.isPackaged);
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
    // renderer/dist only, on app://studio; client-side routes get the app shell (ipc-rules.ts).
    const file = rendererFile(rendererDir, request.url);
    if (file === null) return new Response('forbidden', { status: 403 });
    return net.fetch(pathToFileURL(file).toString());
  });
}

/** The page asks for no permission but the clipboard; Electron would grant any it is not told about. */
function limitPermissions(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, permission, grant) =>
    grant(permissionAllowed(permission)),
  );
  session.defaultSession.setPermissionCheckHandler((_wc, permission) => permissionAllowed(permission));
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
    if (!isStudioUrl(url, DEV_URL)) e.preventDefault();
  });
  void (DEV_URL ? win.loadURL(DEV_URL) : win.loadURL(`${APP_ORIGIN}/index.html`));
  return win;
}

/** The page asked for a backend connection: one channel, one end each. */
ipcMain.on('reft:connect', (event) => {
  if (!backend || !isStudioOrigin(event.senderFrame?.origin, DEV_URL)) return;
  const { port1, port2 } = new MessageChannelMain();
  backend.postMessage({ type: 'connect' }, [port1]);
  event.sender.postMessage('reft:port', null, [port2]);
});

/**
 * The native folder picker (exports to a folder, import of a folder by path): only for the studio's
 * own page; returns the chosen folder or null when cancelled.
 */
ipcMain.handle('reft:pick-folder', async (event, raw: unknown) => {
  const win = BrowserWindow.fromWebContents(event.sender);
  if (!isStudioOrigin(event.senderFrame?.origin, DEV_URL) || !win) return null;
  const opts = folderPickerOptions(raw);
  const r = await dialog.showOpenDialog(win, {
    title: opts.title,
    properties: opts.create ? ['openDirectory', 'createDirectory'] : ['openDirectory'],
  });
  return r.canceled ? null : (r.filePaths[0] ?? null);
});

/** Dataset files the native file picker offers (the formats library/dataset-formats.ts reads). */
const DATASET_FILTERS = [
  { name: 'Datasets', extensions: ['jsonl', 'ndjson', 'json', 'csv', 'tsv', 'parquet'] },
  { name: 'All files', extensions: ['*'] },
];

/** The native file picker (a dataset to import by path): only for the studio's own page. */
ipcMain.handle('reft:pick-file', async (event, raw: unknown) => {
  const win = BrowserWindow.fromWebContents(event.sender);
  if (!isStudioOrigin(event.senderFrame?.origin, DEV_URL) || !win) return null;
  const r = await dialog.showOpenDialog(win, {
    title: filePickerOptions(raw).title,
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
          // The library's folder (paths.ts), not Electron's own settings folder (userData).
          click: () => void shell.openPath(resolveDataDir(dataDirArgs()[1])),
        },
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

// Before ready, as Electron requires: its own files never land in the library's folder (paths.ts).
app.setPath('userData', electronSettingsDir(app.getPath('userData'), resolveDataDir(dataDirArgs()[1])));

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });
  void app.whenReady().then(() => {
    serveRenderer();
    limitPermissions();
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
