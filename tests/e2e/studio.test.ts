// End-to-end: the real `reft-studio serve` (fresh data folder) driven by Debian's Chromium through
// playwright-core. Checks that every section is reachable and renders, that the backend's demo model
// and data folder reach the page, and that a page opened without the access token says so instead of
// failing silently (the Datasets page has its own tests: datasets.test.ts). Saves
// test-results/studio.png.
// Skips only when Chromium is missing outside CI (CI installs it in .ci/run, so there it must run).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  DEMO_DATASET,
  DEMO_MODEL,
  ensureRendererBuilt,
  launchBrowser,
  openPage,
  root,
  type Served,
  skip,
  startServer,
} from './helpers.ts';

const sections = [
  ['models', 'Models'],
  ['datasets', 'Datasets'],
  ['train', 'Train'],
  ['runs', 'Runs'],
  ['adapters', 'Adapters'],
  ['playground', 'Playground'],
  ['settings', 'Settings'],
] as const;

/** Picks the demo dataset in the Train wizard (its label ends with the row count). */
async function selectDemoDataset(page: Page): Promise<void> {
  // The list fills in after the page opens: wait for the option (evaluateAll does not wait).
  await page
    .locator('#train-dataset option', { hasText: DEMO_DATASET })
    .first()
    .waitFor({ state: 'attached' });
  const index = await page
    .locator('#train-dataset option')
    .evaluateAll((opts, name) => opts.findIndex((o) => (o.textContent ?? '').startsWith(name)), DEMO_DATASET);
  assert.ok(index > 0, 'the demo dataset is listed');
  await page.getByLabel('Dataset').selectOption({ index });
}

describe('studio in a browser (reft-studio serve)', { skip, timeout: 600_000 }, () => {
  let dataDir = '';
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    ensureRendererBuilt();
    dataDir = tempDir('reft-e2e-');
    server = await startServer(dataDir);
    browser = await launchBrowser();
    page = await openPage(browser, {
      viewport: { width: 1280, height: 800 },
      timeout: 20_000,
      errors: pageErrors,
    });
  });

  after(() => closeStudio({ browser, server }));

  test('connects with the token from the URL, then takes it out of the address bar', async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/models`);
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    // Out of the history and the address bar (page-token.ts); the route stays.
    assert.equal(page.url(), `${new URL(server.url).origin}/#/models`);
    // A reload of the tab finds it in this tab's sessionStorage.
    await page.reload();
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    assert.equal(page.url(), `${new URL(server.url).origin}/#/models`);
  });

  test("the page's CSP lets it open a WebSocket to its own server only", async () => {
    // connect-src 'self' covers ws: of the page's own host and port (CSP3, Chromium); the page was
    // connected above. Another port or host is refused before any connection is tried.
    const refused = await page.evaluate(async () => {
      const blocked: string[] = [];
      document.addEventListener('securitypolicyviolation', (e) => blocked.push(e.blockedURI));
      for (const url of [`ws://${location.hostname}:9/rpc`, 'wss://example.com/']) {
        try {
          new WebSocket(url).close();
        } catch {}
      }
      await new Promise((r) => setTimeout(r, 500)); // the events are queued tasks
      return blocked;
    });
    // Each refused by both policies: the served header and index.html's meta.
    assert.deepEqual(refused.toSorted(), [
      'ws://127.0.0.1:9/rpc',
      'ws://127.0.0.1:9/rpc',
      'wss://example.com/',
      'wss://example.com/',
    ]);
  });

  test('every section is reachable from the navigation and renders its heading', async () => {
    for (const [id, title] of sections) {
      const link = page.getByRole('link', { name: title, exact: true });
      assert.equal(await link.getAttribute('data-testid'), `nav-${id}`);
      await link.click();
      await page.getByRole('heading', { level: 1, name: title, exact: true }).waitFor();
      assert.match(page.url(), new RegExp(`#/${id}$`));
      assert.equal(await page.getByTestId(`nav-${id}`).getAttribute('aria-current'), 'page');
    }
  });

  test('Models lists the demo model registered on first start', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByTestId('models-table').getByText(DEMO_MODEL).waitFor();
  });

  test('adding a folder that is not a model shows the backend error inline', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByLabel('Add model folder').fill(join(dataDir, 'no-such-model'));
    await page.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('alert').waitFor();
    // The page keeps working: the list is still there.
    await page.getByTestId('models-table').getByText(DEMO_MODEL).waitFor();
  });

  test('Runs and Adapters show friendly empty states on a fresh library', async () => {
    await page.getByTestId('nav-runs').click();
    await page.getByText('No runs yet — start one from Train').waitFor();
    await page.getByTestId('nav-adapters').click();
    await page.getByText(/No adapters yet/).waitFor();
  });

  test('Train wizard starts a run: no error, and the run is on the Runs page', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await selectDemoDataset(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Intervention type').selectOption('loreft');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Epochs').fill('1');
    await page.getByLabel('Max steps').fill('2');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByTestId('train-start').click();
    // An error alert is a failure here, not an acceptable outcome.
    await page.waitForFunction(
      () => /^#\/runs\/\d+$/.test(location.hash) || document.querySelector('[role="alert"]') !== null,
    );
    const alerts = await page.getByRole('alert').allTextContents();
    assert.deepEqual(alerts, [], `the page reported: ${alerts.join(' | ')}`);
    const runId = /#\/runs\/(\d+)$/.exec(page.url())?.[1];
    assert.ok(runId, page.url());
    // The run really exists and was queued (it may have finished already: two steps on the demo).
    await page
      .getByTestId('run-detail')
      .locator('[data-status="queued"], [data-status="running"], [data-status="completed"]')
      .first()
      .waitFor();
    await page.getByTestId(`run-progress-${runId}`).waitFor();
  });

  test('Settings shows the data folder and system information', async () => {
    await page.getByTestId('nav-settings').click();
    const dir = page.getByTestId('data-dir');
    await dir.waitFor();
    assert.equal(((await dir.textContent()) ?? '').trim(), dataDir);
    await page.getByText('Execution providers').waitFor();
  });

  test('theme setting is stored in the backend', async () => {
    await page.getByTestId('nav-settings').click();
    await page.getByLabel('Dark').check();
    await page.getByTestId('settings-saved').getByText('Saved.').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.reload();
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    // Clicked at once after "Connected": the stored theme, read then, must not undo the click.
    await page.getByLabel('Follow the system').check();
    await page.getByTestId('settings-saved').getByText('Saved.').waitFor();
  });

  test('Train shows the estimate for the demo model and dataset before starting', async () => {
    await page.getByTestId('nav-train').click();
    // The last test's draft (at its review step) outlives the reload (the draft survives a reload): start afresh.
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await selectDemoDataset(page);
    const est = page.getByTestId('train-estimate');
    await est.getByText('Trainable parameters').waitFor();
    const params = ((await page.getByTestId('est-params').textContent()) ?? '').trim();
    assert.match(params, /^\d/);
    await est.getByText('Adapter size').waitFor();
    await est.getByText(/\/epoch/).waitFor();
    // Memory against the device the run uses: the CPU here (no GPU), and the tiny model fits.
    assert.match(
      (await page.getByTestId('est-memory').textContent()) ?? '',
      /of this computer’s [\d.]+ [KMG]?B/,
    );
    assert.equal(await page.getByTestId('est-too-big').count(), 0);
    assert.equal(await page.getByTestId('est-replay').count(), 0, 'a tiny model keeps its activations');
    // Measuring speed runs real steps; the time per epoch then shows a duration.
    await est.getByRole('button', { name: 'Measure speed' }).click();
    await page.waitForFunction(
      () =>
        !document
          .querySelector('[data-testid="train-estimate"]')
          ?.getAttribute('aria-busy')
          ?.includes('true'),
      undefined,
      { timeout: 120_000 },
    );
    assert.equal(await est.getByRole('alert').count(), 0);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-results/train.png'), fullPage: true });
  });

  test('a tiny run completes, draws its loss curve and yields an adapter', { timeout: 200_000 }, async () => {
    // One training per device: cancel whatever an earlier test left running or queued.
    await page.getByTestId('nav-runs').click();
    await page.getByRole('heading', { level: 1, name: 'Runs', exact: true }).waitFor();
    await page.waitForTimeout(300);
    // (The row re-renders on every progress push, so a click may miss; it is simply retried.)
    for (let i = 0; i < 20; i++) {
      const cancel = page
        .getByRole('table')
        .getByRole('button', { name: /^Cancel / })
        .first();
      if ((await cancel.count()) === 0) break;
      await cancel.click({ timeout: 2000, force: true }).catch(() => {});
      // Cancelling asks first.
      await page
        .getByTestId('cancel-dialog')
        .getByRole('button', { name: 'Cancel run' })
        .click({ timeout: 2000 })
        .catch(() => {});
      await page.waitForTimeout(500);
    }
    await page.getByTestId('nav-train').click();
    // The last test's draft (at its review step) outlives the reload (the draft survives a reload): start afresh.
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await selectDemoDataset(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Epochs').fill('1');
    await page.getByLabel('Max steps').fill('3');
    await page.getByRole('button', { name: 'Next' }).click();
    const review = page.getByTestId('train-review');
    await review.waitFor();
    assert.equal(
      await review.evaluate(
        (dl) =>
          Array.from(dl.querySelectorAll('dt')).find((dt) => dt.textContent === 'Max steps')
            ?.nextElementSibling?.textContent,
      ),
      '3 steps',
    );
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    const runId = /#\/runs\/(\d+)$/.exec(page.url())?.[1];
    assert.ok(runId);
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="completed"]').waitFor({ timeout: 180_000 });
    await detail.getByTestId('loss-chart').waitFor();
    assert.match((await page.getByTestId('run-step').textContent()) ?? '', /^3\b/);
    await page.getByTestId(`run-progress-${runId}`).getByText('3 / 3').waitFor();
    await page.screenshot({ path: join(root, 'test-results/runs.png'), fullPage: true });

    await page.getByTestId('nav-adapters').click();
    await page.getByRole('link', { name: `from run ${runId}` }).waitFor();
    // Its detail shows the lineage back to the run and dataset.
    const row = page.locator('tr', { has: page.getByRole('link', { name: `from run ${runId}` }) });
    await row.getByRole('button', { name: 'Details' }).click();
    await page.getByTestId('adapter-lineage').getByText(DEMO_DATASET, { exact: false }).waitFor();
    // "completed · final loss 1.2345" (the space before the dot was lost inside an {#if}).
    await page
      .getByTestId('adapter-lineage')
      .getByText(/completed · final loss \d/)
      .waitFor();
  });

  test('the Playground generates text with the demo model', { timeout: 120_000 }, async () => {
    await page.getByTestId('nav-playground').click();
    await page.getByLabel('Model', { exact: true }).selectOption({ label: DEMO_MODEL });
    await page.getByLabel('Max new tokens').fill('8');
    // Greedy: a sampled first token can be the end of text (an empty answer, rightly), at random.
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Message', { exact: true }).fill('Ahoy, who are you?');
    await page.getByRole('button', { name: 'Send' }).click();
    // Done (its token count shown) or failed: a failure is reported in its own words.
    await page.waitForFunction(
      () =>
        /\btokens?\b/.test(document.querySelector('[data-testid="reply-meta"]')?.textContent ?? '') ||
        document.querySelector('[role="alert"]'),
      undefined,
      { timeout: 100_000 },
    );
    assert.deepEqual(await page.getByRole('alert').allTextContents(), []);
    assert.notEqual((await page.getByTestId('playground-output').first().textContent())?.trim(), '');
  });

  test('screenshot of the Models page', async () => {
    await page.getByTestId('nav-models').click();
    await page.getByTestId('models-table').getByText(DEMO_MODEL).waitFor();
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-results/studio.png'), fullPage: true });
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('Electron transport: a preload-style bridge hands over a MessagePort', async () => {
    assert.ok(server && browser);
    // Stands in for electron/preload.ts + Electron main: connect() answers with a 'reft:port'
    // window message carrying a MessagePort, whose far end is relayed to the real backend's WebSocket.
    const rpcUrl = new URL(server.url);
    rpcUrl.protocol = 'ws:';
    rpcUrl.pathname = '/rpc';
    const bare = new URL(server.url);
    bare.search = '';
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      await context.addInitScript((wsUrl: string) => {
        const w = window as unknown as Record<string, unknown>;
        w.reftStudio = {
          isElectron: true,
          connect() {
            const { port1, port2 } = new MessageChannel();
            const ws = new WebSocket(wsUrl);
            ws.onmessage = (e) => port1.postMessage(JSON.parse(String(e.data)));
            port1.onmessage = (e) => ws.send(JSON.stringify(e.data));
            ws.onopen = () => window.postMessage('reft:port', '*', [port2]);
          },
        };
      }, rpcUrl.href);
      const p = await context.newPage();
      // No token in the page URL: in Electron the port is the credential.
      await p.goto(bare.href);
      await p.getByTestId('models-table').getByText(DEMO_MODEL).waitFor();
      await p.getByTestId('nav-settings').click();
      await p.getByText('MessagePort (desktop app)').waitFor();
    } finally {
      await context.close();
    }
  });

  test('without the token the page says the access token is missing or wrong', async () => {
    assert.ok(server && browser);
    const bare = new URL(server.url);
    bare.search = '';
    const p = await browser.newPage();
    try {
      await p.goto(bare.href);
      await p.getByTestId('auth-error').waitFor();
      assert.match((await p.getByTestId('auth-error').textContent()) ?? '', /missing or wrong access token/i);
      await p.getByTestId('connection-status').getByText('Not authorised').waitFor();

      bare.searchParams.set('token', 'wrong');
      await p.goto(bare.href);
      await p.getByTestId('auth-error').waitFor();
      assert.match((await p.getByTestId('auth-error').textContent()) ?? '', /missing or wrong access token/i);
    } finally {
      await p.close();
    }
  });
});
