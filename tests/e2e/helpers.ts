import assert from 'node:assert/strict';
// Shared by the end-to-end tests: `reft-studio serve` on a fresh data folder, Debian's Chromium through
// playwright-core, an RPC connection beside the page (to set up runs without depending on the wizard's
// layout), and screenshots under tests/e2e/screenshots/ (test output, git-ignored: look at them after a run).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page, type ViewportSize } from 'playwright-core';
import { connect, type RpcClient, rpc } from '../backend/helpers.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const chromiumPath = '/usr/bin/chromium';
/** Skips only when Chromium is missing outside CI (CI installs it, so there the tests must run). */
export const skip =
  !existsSync(chromiumPath) && !process.env.CI
    ? `${chromiumPath} not found (install Debian's chromium to run the end-to-end tests)`
    : false;

export const DEMO_MODEL = 'Demo: tiny Llama (random weights)';
export const DEMO_DATASET = 'Demo: pirate persona';

export function ensureRendererBuilt(): void {
  if (existsSync(join(root, 'renderer/dist/index.html'))) return;
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts'],
    { cwd: root, stdio: 'inherit' },
  );
}

export interface Served {
  proc: ChildProcess;
  url: string;
}

/** Starts `reft-studio serve` and resolves with the URL it prints. */
export function startServer(
  dataDir: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Served> {
  const proc = spawn(
    process.execPath,
    [join(root, 'bin/reft-studio.js'), 'serve', '--data-dir', dataDir, ...extra],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REFT_STUDIO_HOME: dataDir, ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`reft-studio serve printed no URL within 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 60_000);
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = /ReFT Studio is serving at (\S+)/.exec(stdout);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`reft-studio serve exited early (${code ?? signal})\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    });
  });
}

export async function stopServer(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Kills the server while a request of the page is in flight: frozen first (SIGSTOP), the server takes
 * what `during` sends but never answers; then it dies, the link drops with the request unanswered.
 */
export async function cutOffServer(served: Served | undefined, during: () => Promise<void>): Promise<void> {
  const proc = served?.proc;
  assert.ok(proc?.pid, 'a running server');
  process.kill(proc.pid, 'SIGSTOP');
  await during();
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  process.kill(proc.pid, 'SIGKILL');
  await exited;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** An RPC connection to the served backend (same token as the page). */
export function rpcFor(url: string): Promise<RpcClient> {
  const u = new URL(url);
  return connect(`ws://${u.host}/rpc?token=${u.searchParams.get('token')}`);
}

export { rpc };

/** The ids of the demo model and the demo dataset a fresh data folder starts with. */
export async function demoIds(client: RpcClient): Promise<{ modelId: number; datasetId: number }> {
  const model = (await rpc(client, 'models/list')).find((m: { name: string }) => m.name === DEMO_MODEL);
  const dataset = (await rpc(client, 'datasets/list')).find((d: { name: string }) => d.name === DEMO_DATASET);
  assert.ok(model && dataset, 'the demo model and dataset are in a fresh library');
  return { modelId: model.id, datasetId: dataset.id };
}

/**
 * A run of the demo model on the demo dataset with `config` (runs/start's other fields), trained to
 * its end: its id and its adapter's.
 */
export async function trainedOnDemo(
  client: RpcClient,
  config: Record<string, unknown>,
): Promise<{ runId: number; adapterId: number }> {
  const { modelId, datasetId } = await demoIds(client);
  const { runId } = await rpc(client, 'runs/start', { modelId, datasetId, ...config });
  const { adapterId } = await completedRun(client, runId);
  return { runId, adapterId };
}

/** Waits for run `runId` to complete and returns its record; a failed or cancelled run throws. */
export async function completedRun(client: RpcClient, runId: number): Promise<{ adapterId: number }> {
  for (;;) {
    const r = await rpc(client, 'runs/get', { id: runId });
    if (r.status === 'completed') return r;
    if (['failed', 'cancelled'].includes(r.status)) throw new Error(`run ${r.status}: ${r.error}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const shots = join(root, 'tests/e2e/screenshots');

/** Saves a screenshot as tests/e2e/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
}

/**
 * A page on a new context of `browser` at `viewport`, with a default timeout; its uncaught errors are
 * pushed onto `errors` when given (the test file asserts there were none). With `url` it opens the
 * studio there and waits until the page says it is connected.
 */
export async function openPage(
  browser: Browser,
  o: {
    viewport: ViewportSize;
    acceptDownloads?: boolean;
    timeout?: number;
    errors?: string[];
    url?: string;
    /** Lets a test add its own script (axe-core) past the page's Content-Security-Policy. */
    bypassCSP?: boolean;
  },
): Promise<Page> {
  const page = await (
    await browser.newContext({
      viewport: o.viewport,
      acceptDownloads: o.acceptDownloads,
      bypassCSP: o.bypassCSP,
    })
  ).newPage();
  page.setDefaultTimeout(o.timeout ?? 30_000);
  const errors = o.errors;
  if (errors) page.on('pageerror', (e) => errors.push(e.message));
  if (o.url !== undefined) {
    await page.goto(o.url);
    await connected(page);
  }
  return page;
}

/** What most test files open first: `reft-studio serve`, an RPC connection to it, and Chromium. */
export interface Studio {
  server: Served;
  client: RpcClient;
  browser: Browser;
}

/**
 * Builds the renderer if it is not built, starts `reft-studio serve` on `dataDir`, connects to it over
 * RPC and launches Chromium (pages are opened with openPage once the test's library is set up). A
 * step that fails closes what the earlier ones opened: the caller's closeStudio never got them.
 */
export async function startStudio(dataDir: string): Promise<Studio> {
  ensureRendererBuilt();
  const server = await startServer(dataDir);
  let client: RpcClient | undefined;
  try {
    client = await rpcFor(server.url);
    return { server, client, browser: await launchBrowser() };
  } catch (e) {
    await closeStudio({ client, server });
    throw e;
  }
}

/** Closes what a test file opened, whichever parts it got to. */
export async function closeStudio(o: {
  client?: RpcClient;
  browser?: Browser;
  server?: Served;
}): Promise<void> {
  o.client?.close();
  await o.browser?.close();
  await stopServer(o.server?.proc);
}

/**
 * The element's text once it equals (or matches) `want`, else its text when `timeout` runs out, for the
 * assertion to show: a read right after a click waits for the page to re-render instead of racing it.
 */
export async function textWhen(l: Locator, want: string | RegExp, timeout = 10_000): Promise<string> {
  const end = Date.now() + timeout;
  for (;;) {
    const t = (await l.textContent()) ?? '';
    if ((typeof want === 'string' ? t === want : want.test(t)) || Date.now() > end) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the page says it is connected. */
export async function connected(page: Page): Promise<void> {
  await page.getByTestId('connection-status').getByText('Connected').waitFor();
}

/**
 * Starts keeping every text the studio's live region (the announcer) says, on the page as loaded now;
 * resolves with a function that reads what was said so far. A listener started before on the same
 * page stops: both would write to the one list, and each text would be kept twice.
 */
export async function listenToAnnouncer(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { said: string[]; saidObserver?: MutationObserver };
    w.saidObserver?.disconnect();
    w.said = [];
    const region = document.querySelector('[data-testid="announcer"]');
    if (!region) throw new Error('no live region');
    w.saidObserver = new MutationObserver(() => {
      const t = region.textContent?.trim();
      if (t) w.said.push(t);
    });
    w.saidObserver.observe(region, { childList: true, characterData: true, subtree: true });
  });
  return () => page.evaluate(() => (window as unknown as { said: string[] }).said);
}

/**
 * Holds back `page`'s RPC requests for `method` (as a busy machine's slow answer would be) while every
 * other request goes through: `held` has the frames asked so far, `release()` sends them on.
 */
export async function holdRpcMethod(
  page: Page,
  method: string,
): Promise<{ held: string[]; release: () => void }> {
  const held: string[] = [];
  let toBackend: (frame: string) => void = () => {};
  await page.routeWebSocket(/\/rpc\b/, (ws) => {
    const backend = ws.connectToServer();
    toBackend = (frame) => backend.send(frame);
    ws.onMessage((frame) => {
      if (typeof frame === 'string' && JSON.parse(frame).method === method) held.push(frame);
      else backend.send(frame);
    });
  });
  const release = () => {
    for (const frame of held.splice(0)) toBackend(frame);
  };
  return { held, release };
}
