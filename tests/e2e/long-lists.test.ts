// End-to-end: a library grown over months lists its runs and adapters a hundred at a time, newest
// first, with a button for the next ones. Every row of 2,000 runs was rendered at once: 36,000 DOM
// nodes and 5 s before the Runs page showed anything (1,000 adapters: 21,000 nodes, 4–6 s), and again
// on every change while a run trained elsewhere. A run or adapter opened by its address is shown
// even when it is past the first hundred. The Runs page finds an old run by a search (name,
// status, model, dataset), and a change another process makes to one run reads that run only: the
// whole list was 3 MB at 2,000 runs, fetched again at each step of a CLI training.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { registerAdapter } from '../../electron/backend/library/adapters.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { createRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  listenToAnnouncer,
  openPage,
  type Served,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

/** More than one step of rows (ROWS_PER_STEP, 100), few enough to record in a moment. */
const ENTRIES = 130;

describe('Long lists (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient | undefined;
  let page: Page;
  const runIds: number[] = [];
  const adapterIds: number[] = [];
  const pageErrors: string[] = [];
  let dataDir = '';
  /** The params of every runs/list the page asked for. */
  const listCalls: Array<Record<string, unknown>> = [];

  before(async () => {
    dataDir = tempDir('reft-e2e-long-lists-');
    const lib = openLibrary(dataDir);
    for (let i = 0; i < ENTRIES; i++) {
      // The oldest run has a name of its own, for the search to find past the first hundred.
      const run = createRun(lib, { name: i === 0 ? 'oldest baseline' : `run ${i}` });
      setRunStatus(lib, run.id, 'cancelled');
      runIds.push(run.id);
      const a = registerAdapter(lib, {
        name: `adapter ${i}`,
        path: `${dataDir}/adapters/a-${i}`,
        type: 'loreft',
        baseModelFingerprint: 'f'.repeat(64),
      });
      adapterIds.push(a.id);
    }
    closeLibrary(lib);
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, { viewport: { width: 1280, height: 900 }, errors: pageErrors });
    page.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        const m = JSON.parse(String(payload)) as { method?: string; params?: Record<string, unknown> };
        if (m.method === 'runs/list') listCalls.push(m.params ?? {});
      }),
    );
  });

  after(() => closeStudio({ client, browser, server }));

  /** The id of the element holding the keyboard's focus ('' for none, <body>). */
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');

  async function open(hash: string): Promise<void> {
    assert.ok(server);
    await page.goto(`${server.url}${hash}`);
    await connected(page);
  }

  test('Runs: the newest 100, then the rest on request', async () => {
    await open('#/runs');
    const rows = page.locator('main table tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 100);
    assert.equal(await rows.first().locator('a.name').textContent(), `run ${ENTRIES - 1}`);
    const more = page.getByTestId('runs-more');
    assert.equal(
      await textWhen(more.locator('span'), `Showing the newest 100 of ${ENTRIES} runs.`),
      `Showing the newest 100 of ${ENTRIES} runs.`,
    );
    // By keyboard: the button leaves with the last step, and focus goes on to the first row it added
    // (it went to <body>, and the next Tab to the top of the window).
    await more.getByRole('button', { name: `Show ${ENTRIES - 100} more` }).focus();
    await page.keyboard.press('Enter');
    await page.locator(`#open-run-${runIds[0]}`).waitFor();
    assert.equal(await rows.count(), ENTRIES);
    assert.equal(await more.count(), 0, 'nothing more to show');
    assert.equal(await focusedId(), `open-run-${runIds[ENTRIES - 101]}`);
  });

  test('Runs: a run opened by its address is shown past the first 100', async () => {
    await open(`#/runs/${runIds[0]}`);
    const row = page.locator('main table tbody tr', { has: page.locator(`#open-run-${runIds[0]}`) });
    await row.waitFor();
    assert.match((await row.getAttribute('class')) ?? '', /selected/);
  });

  test('Runs: a search finds an old run past the first 100, said once; clearing it lists all', async () => {
    await open('#/runs');
    const rows = page.locator('main table tbody tr');
    await rows.first().waitFor();
    const said = await listenToAnnouncer(page);
    const search = page.getByRole('searchbox', { name: 'Search runs' });
    await search.fill('Baseline');
    const found = page.getByTestId('run-search-found');
    assert.equal(await textWhen(found, '1 run matches “Baseline”.'), '1 run matches “Baseline”.');
    await page.locator(`#open-run-${runIds[0]}`).waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await page.getByTestId('runs-more').count(), 0);
    // Every word must match: the status and a part of the name.
    await search.fill('cancelled 12');
    assert.equal(await textWhen(found, '12 runs match “cancelled 12”.'), '12 runs match “cancelled 12”.');
    await page.locator(`#open-run-${runIds[112]}`).waitFor();
    assert.equal(await rows.count(), 12);
    await search.fill('no such run');
    assert.equal(await textWhen(found, 'No run matches “no such run”.'), 'No run matches “no such run”.');
    assert.equal(await rows.count(), 0);
    assert.ok(await search.isVisible(), 'the box stays to change the search');
    await page.waitForTimeout(300);
    const heard = await said();
    assert.ok(heard.includes('No run matches “no such run”.'), heard.join(' | '));
    assert.equal(heard.filter((t) => t === '1 run matches “Baseline”.').length, 1, heard.join(' | '));
    // Cleared by keyboard: the search box, with the focus in it, stays while every run is read again,
    // and the empty list the search found is never shown as an empty library.
    await page.evaluate(() => {
      const w = window as unknown as { emptyShown: boolean };
      w.emptyShown = false;
      new MutationObserver(() => {
        w.emptyShown ||= document.querySelector('main')?.textContent?.includes('No runs yet') ?? false;
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    await search.press('Control+A');
    await search.press('Backspace');
    assert.equal(
      await textWhen(
        page.getByTestId('runs-more').locator('span'),
        `Showing the newest 100 of ${ENTRIES} runs.`,
      ),
      `Showing the newest 100 of ${ENTRIES} runs.`,
    );
    assert.equal(await found.count(), 0);
    assert.equal(await focusedId(), 'run-search');
    assert.equal(await page.evaluate(() => (window as unknown as { emptyShown: boolean }).emptyShown), false);
  });

  test('Runs: a run changed by another process is read alone, not the whole list', async () => {
    await open('#/runs');
    await page.locator(`#open-run-${runIds[ENTRIES - 1]}`).waitFor();
    const before = listCalls.length;
    const id = runIds[ENTRIES - 2];
    // Another process (a CLI) renames it: the studio's poll pushes that one run's change.
    const lib = openLibrary(dataDir);
    lib.db.prepare('UPDATE runs SET name = ? WHERE id = ?').run('renamed elsewhere', id);
    closeLibrary(lib);
    await page.locator(`#open-run-${id}`).getByText('renamed elsewhere').waitFor();
    const calls = listCalls.slice(before);
    assert.deepEqual(calls, [{ ids: [id] }], JSON.stringify(calls));
  });

  test('Adapters: the newest 100, then the rest on request; one opened by address is shown', async () => {
    await open('#/adapters');
    const rows = page.getByTestId('adapters-table').locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 100);
    const more = page.getByTestId('adapters-more');
    await more.getByRole('button', { name: `Show ${ENTRIES - 100} more` }).click();
    await page.locator(`#open-adapter-${adapterIds[0]}`).waitFor();
    assert.equal(await rows.count(), ENTRIES);
    assert.equal(await focusedId(), `open-adapter-${adapterIds[ENTRIES - 101]}`);
    // A search that found nothing, cleared by keyboard: the box and its focus stay.
    const search = page.getByRole('searchbox', { name: 'Search adapters' });
    await search.fill('no such adapter');
    await page.getByTestId('adapter-search-empty').waitFor();
    await search.press('Control+A');
    await search.press('Backspace');
    await rows.first().waitFor();
    assert.equal(await focusedId(), 'adapter-search');

    await open(`#/adapters/${adapterIds[0]}`);
    await page.locator(`#open-adapter-${adapterIds[0]}`).waitFor();
    assert.equal(await page.locator(`#open-adapter-${adapterIds[0]}`).getAttribute('aria-expanded'), 'true');
    assert.deepEqual(pageErrors, []);
  });
});
