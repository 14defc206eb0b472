// End-to-end: the renderer as the desktop app runs it, with a stand-in for electron/preload.ts
// (Electron itself cannot run on this machine): window.reftStudio is present, so the page talks to
// the backend over a MessagePort (here relayed to `reft-studio serve`'s WebSocket, where Electron's
// main process would hand it to the utility process), and the native pickers are offered — a model
// folder to add, a dataset file to import, a folder to export an adapter into. The stand-in records
// what the page asked the pickers and answers with paths the test chose. What this cannot show:
// Electron's own dialogs, its IPC and the main process's checks (those are electron/ipc-rules.ts,
// unit-tested). Screenshots under tests/e2e/screenshots/electron-*.png.

import assert from 'node:assert/strict';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_MODEL,
  openPage,
  root,
  type Served,
  screenshot,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

/** The stand-in preload: the bridge's shape, a MessagePort relayed to /rpc, pickers answered by the test. */
function standInPreload(): void {
  const w = window as unknown as {
    picks: Array<{ kind: string; opts: unknown }>;
    nextPick: string | null;
    portMessages: number;
    reftStudio: unknown;
  };
  w.picks = [];
  w.nextPick = null;
  w.portMessages = 0;
  const token = new URLSearchParams(location.search).get('token') ?? '';
  w.reftStudio = {
    isElectron: true,
    platform: 'linux',
    versions: { electron: 'stand-in', chrome: '', node: '' },
    connect() {
      const channel = new MessageChannel();
      const ws = new WebSocket(`ws://${location.host}/rpc?token=${encodeURIComponent(token)}`);
      const early: unknown[] = [];
      channel.port2.onmessage = (e) => {
        w.portMessages += 1;
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(e.data));
        else early.push(e.data);
      };
      ws.onmessage = (e) => channel.port2.postMessage(JSON.parse(String(e.data)));
      ws.onopen = () => {
        for (const m of early.splice(0)) ws.send(JSON.stringify(m));
        window.postMessage('reft:port', location.origin, [channel.port1]);
      };
    },
    pickFolder: async (opts: unknown) => {
      w.picks.push({ kind: 'folder', opts });
      return w.nextPick;
    },
    pickFile: async (opts: unknown) => {
      w.picks.push({ kind: 'file', opts });
      return w.nextPick;
    },
  };
}

describe('The desktop renderer: MessagePort and native pickers (stand-in preload)', {
  skip,
  timeout: 600_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const files = tempDir('reft-e2e-electron-files-');
  const pageErrors: string[] = [];
  const nextPick = (p: string | null) =>
    page.evaluate((v) => ((window as unknown as { nextPick: string | null }).nextPick = v), p);
  const picks = () =>
    page.evaluate(() =>
      (window as unknown as { picks: Array<{ kind: string; opts: unknown }> }).picks.splice(0),
    );

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-electron-')));
    page = await openPage(browser, {
      viewport: { width: 1000, height: 700 },
      timeout: 30_000,
      errors: pageErrors,
    });
    // tsx compiles with esbuild's keepNames, so a function sent to the page calls its `__name` helper,
    // which the page lacks: define it as the identity first.
    await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await page.addInitScript(standInPreload);
    await page.goto(server.url);
    await connected(page);
  });

  after(() => closeStudio({ client, browser, server }));

  test('the page talks to the backend over the MessagePort', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByTestId('models-table').getByText(DEMO_MODEL).waitFor();
    const n = await page.evaluate(() => (window as unknown as { portMessages: number }).portMessages);
    assert.ok(n > 0, 'requests went through the port');
  });

  test('Models: a folder chosen with the system dialog is added', async () => {
    const copy = join(files, 'my-model');
    cpSync(join(root, 'resources/demo/model'), copy, { recursive: true });
    const form = page.locator('form.add');
    // Cancelled: nothing changes.
    await nextPick(null);
    await form.getByRole('button', { name: 'Choose…' }).click();
    assert.deepEqual(await picks(), [{ kind: 'folder', opts: { title: 'Add a model folder' } }]);
    assert.equal(await page.getByLabel('Add model folder').inputValue(), '');
    await nextPick(copy);
    await form.getByRole('button', { name: 'Choose…' }).click();
    await page.waitForFunction(
      (p) => (document.getElementById('model-path') as HTMLInputElement | null)?.value === p,
      copy,
    );
    await screenshot(page, 'electron-1-models-picker');
    await form.getByRole('button', { name: 'Add model' }).click();
    await form
      .getByTestId('model-add-notice')
      .getByText(/is already in the library|Added/)
      .waitFor();
    await picks();
  });

  test('Datasets: a file chosen with the system dialog is imported by path', async () => {
    const file = join(files, 'chosen.jsonl');
    writeFileSync(
      file,
      `${[1, 2, 3].map((i) => JSON.stringify({ prompt: `Q${i}?`, completion: `A${i}.` })).join('\n')}\n`,
    );
    await page.getByTestId('nav-datasets').click();
    await nextPick(file);
    await page.getByRole('button', { name: 'Choose with the system dialog…' }).click();
    assert.deepEqual(await picks(), [
      { kind: 'file', opts: { title: 'Import a dataset file', kind: 'dataset' } },
    ]);
    assert.equal(await page.locator('#ds-path').inputValue(), file);
    await screenshot(page, 'electron-2-datasets-picker');
    await page.getByTestId('dataset-import').getByRole('button', { name: 'Import' }).click();
    await page
      .getByTestId('import-result')
      .getByText(/Imported “chosen” \(3 rows/)
      .waitFor();
  });

  test('Adapters: exported into a folder chosen with the system dialog', async () => {
    await trainedOnDemo(client, { name: 'picked', layers: '0', rank: 2, maxSteps: 2 });
    await page.getByTestId('nav-adapters').click();
    await page.locator('tr', { hasText: 'picked' }).getByRole('button', { name: 'Details' }).click();
    const exp = page.getByTestId('adapter-export');
    const out = join(files, 'exported-adapter');
    await nextPick(out);
    await exp.getByRole('button', { name: 'Choose…' }).click();
    assert.deepEqual(await picks(), [
      { kind: 'folder', opts: { title: 'Export the adapter into…', create: true } },
    ]);
    assert.equal(await exp.getByLabel('Or write into a folder').inputValue(), out);
    await exp.getByRole('button', { name: 'Export to folder' }).click();
    await exp.getByTestId('export-result').getByText(`Written to ${out}.`).waitFor();
    assert.ok(existsSync(join(out, 'config.json')));
    await exp.scrollIntoViewIfNeeded();
    await screenshot(page, 'electron-3-adapter-export-picker');
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
