// A stand-in for the `electron` module, enough of it for dist/electron/main.cjs to run under plain
// Node (the Electron binary cannot be downloaded here; tests/electron/main-bundle.test.ts links this
// folder as a staged app's node_modules/electron). It opens no window and starts no process: it
// records what main asks for, and once the app is ready probes the handlers main installed, as a page
// and the user would, and sends the test one report over the IPC channel.
// REFT_TEST_PACKAGED=1 makes app.isPackaged true, as in an installed app.
const { existsSync } = require('node:fs');
const { dirname } = require('node:path');
const { fileURLToPath } = require('node:url');

const mainFile = process.argv[1];
const seen = {
  windows: [],
  forks: [],
  openedExternally: [],
  protocols: {},
  ipc: {},
  permissionRequest: null,
  permissionCheck: null,
  paths: {},
};

class EventSource {
  listeners = {};
  on(event, fn) {
    this.listeners[event] = [...(this.listeners[event] ?? []), fn];
    return this;
  }
  once(event, fn) {
    return this.on(event, fn);
  }
  emit(event, ...args) {
    for (const fn of this.listeners[event] ?? []) fn(...args);
  }
}

class WebContents extends EventSource {
  openHandler = null;
  sent = [];
  setWindowOpenHandler(fn) {
    this.openHandler = fn;
  }
  postMessage(channel, _message, ports) {
    this.sent.push({ channel, ports: ports?.length ?? 0 });
  }
}

class BrowserWindow extends EventSource {
  static all = [];
  constructor(options) {
    super();
    this.options = options;
    this.webContents = new WebContents();
    this.loaded = [];
    BrowserWindow.all.push(this);
    seen.windows.push(this);
  }
  loadURL(url) {
    this.loaded.push(url);
    return Promise.resolve();
  }
  static fromWebContents(wc) {
    return BrowserWindow.all.find((w) => w.webContents === wc) ?? null;
  }
  static getAllWindows() {
    return BrowserWindow.all;
  }
  isMinimized() {
    return false;
  }
  show() {}
  focus() {}
}

const app = new EventSource();
let ready;
const whenReady = new Promise((r) => (ready = r));
Object.assign(app, {
  isPackaged: process.env.REFT_TEST_PACKAGED === '1',
  getAppPath: () => dirname(dirname(dirname(mainFile))),
  requestSingleInstanceLock: () => true,
  // Electron's default userData for an app named "ReFT Studio" (REFT_TEST_USER_DATA sets it).
  getPath: (name) =>
    name === 'userData' ? (process.env.REFT_TEST_USER_DATA ?? '/nonexistent/ReFT Studio') : '',
  setPath: (name, dir) => (seen.paths[name] = dir),
  whenReady: () => whenReady,
  quit: () => {},
});

const ipcMain = {
  on: (channel, fn) => (seen.ipc[channel] = fn),
  handle: (channel, fn) => (seen.ipc[channel] = fn),
};

class MessageChannelMain {
  port1 = {};
  port2 = {};
}

module.exports = {
  app,
  BrowserWindow,
  dialog: { showErrorBox: () => {}, showOpenDialog: async () => ({ canceled: true, filePaths: [] }) },
  ipcMain,
  Menu: { buildFromTemplate: (t) => t, setApplicationMenu: () => {} },
  MessageChannelMain,
  net: { fetch: async (url) => ({ fetched: url }) },
  protocol: {
    registerSchemesAsPrivileged: (schemes) => (seen.schemes = schemes),
    handle: (scheme, fn) => (seen.protocols[scheme] = fn),
  },
  session: {
    defaultSession: {
      setPermissionRequestHandler: (fn) => (seen.permissionRequest = fn),
      setPermissionCheckHandler: (fn) => (seen.permissionCheck = fn),
    },
  },
  shell: { openExternal: async (url) => seen.openedExternally.push(url), openPath: async () => '' },
  utilityProcess: {
    fork: (file, args) => {
      const child = new EventSource();
      const posted = [];
      Object.assign(child, {
        postMessage: (m, ports) => posted.push({ m, ports: ports?.length ?? 0 }),
        kill() {},
      });
      seen.forks.push({ file, args, posted });
      return child;
    },
  },
};

/** What main's handlers answer, asked as a page and the user would. */
async function probe() {
  const win = seen.windows[0];
  const wc = win.webContents;
  const backend = seen.forks[0];
  const report = {
    loaded: win.loaded,
    paths: seen.paths,
    webPreferences: win.options.webPreferences,
    preloadExists: existsSync(win.options.webPreferences.preload),
    forks: seen.forks.map((f) => ({ file: f.file, exists: existsSync(f.file), args: f.args })),
    windowOpen: {},
    navigate: {},
    permissions: {},
    connect: {},
    served: {},
  };
  for (const url of [
    'https://huggingface.co/x',
    'http://example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
  ]) {
    const before = seen.openedExternally.length;
    const r = wc.openHandler({ url });
    report.windowOpen[url] = { action: r.action, openedExternally: seen.openedExternally.length > before };
  }
  for (const url of ['app://studio/index.html#/runs', 'http://localhost:5173/', 'https://example.com/']) {
    let prevented = false;
    wc.emit('will-navigate', { preventDefault: () => (prevented = true) }, url);
    report.navigate[url] = !prevented;
  }
  for (const p of ['clipboard-sanitized-write', 'media', 'geolocation', 'notifications', 'openExternal']) {
    let granted = null;
    seen.permissionRequest(wc, p, (g) => (granted = g));
    report.permissions[p] = { request: granted, check: seen.permissionCheck(wc, p) };
  }
  for (const origin of ['app://studio', 'http://localhost:5173', 'https://example.com']) {
    const ports = backend.posted.length;
    seen.ipc['reft:connect']({ sender: wc, senderFrame: { origin } });
    report.connect[origin] = backend.posted.length > ports;
  }
  for (const url of ['app://studio/index.html', 'app://studio/runs/3', 'app://other/index.html']) {
    const r = await seen.protocols.app({ url });
    report.served[url] = r.fetched ? fileURLToPath(r.fetched).slice(app.getAppPath().length) : r.status;
  }
  process.send(report);
}

setImmediate(() => {
  ready();
  setImmediate(() => probe().catch((e) => process.send({ error: String(e?.stack ?? e) })));
});
