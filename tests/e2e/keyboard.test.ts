// End-to-end: the studio with the keyboard only. The tab bars (a dataset's views, a run's details) are
// one tab stop each, as the WAI-ARIA tabs pattern has it: Left/Right move between the tabs (and wrap),
// Home/End go to the first and last, the focused tab is the one shown, and Tab goes on to the panel's
// first control (to the panel itself only when it holds none).
// A dataset row too long for its three lines can be read whole ("Show all", from the keyboard too), and
// a row's five rating stars are one tab stop, the arrows moving among them. Closing a panel gives focus
// back to what opened it. A dialog keeps Tab among its own controls and Escape closes it.
// A run chart is one tab stop whose arrows step through its values (said once the keys rest), with
// zoom buttons beside it; the Train wizard's layer diagram is one tab stop too.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  demoIds,
  listenToAnnouncer,
  openPage,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  textWhen,
  trainedOnDemo,
} from './helpers.ts';

describe('keyboard-only use (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let ids: { modelId: number; datasetId: number };
  let runId: number;
  let adapterId: number;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-keyboard-')));
    ids = await demoIds(client);
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  /** The tab that has focus: its name, whether it is selected, and the panel it controls. */
  const focusedTab = () =>
    page.evaluate(() => {
      const t = document.activeElement as HTMLElement | null;
      const panel = document.getElementById(t?.getAttribute('aria-controls') ?? '');
      return {
        role: t?.getAttribute('role'),
        name: t?.textContent?.trim(),
        selected: t?.getAttribute('aria-selected'),
        panelLabelledBy:
          panel?.getAttribute('role') === 'tabpanel' ? panel.getAttribute('aria-labelledby') : null,
        id: t?.id,
      };
    });
  /** The tabs' tabindex values, in order: one 0 (the selected tab), the others -1. */
  const tabStops = (bar: Locator) =>
    bar.getByRole('tab').evaluateAll((tabs) => tabs.map((t) => t.getAttribute('tabindex')));

  /** Checks the keys on a bar of `names` whose first tab has focus. */
  async function walk(bar: Locator, names: RegExp[]) {
    const expectFocus = async (i: number) => {
      await page.waitForFunction(
        (want) => new RegExp(want).test(document.activeElement?.textContent ?? ''),
        (names[i] as RegExp).source,
      );
      const f = await focusedTab();
      assert.equal(f.role, 'tab');
      assert.match(f.name ?? '', names[i] as RegExp);
      await page.waitForFunction(() => document.activeElement?.getAttribute('aria-selected') === 'true');
      assert.equal((await focusedTab()).panelLabelledBy, f.id, 'the panel is labelled by the focused tab');
      const stops = await tabStops(bar);
      assert.deepEqual(
        stops,
        names.map((_, j) => (j === i ? '0' : '-1')),
      );
    };
    const last = names.length - 1;
    await expectFocus(0);
    await page.keyboard.press('ArrowRight');
    await expectFocus(1);
    await page.keyboard.press('End');
    await expectFocus(last);
    await page.keyboard.press('ArrowRight'); // wraps
    await expectFocus(0);
    await page.keyboard.press('ArrowLeft'); // wraps back
    await expectFocus(last);
    await page.keyboard.press('Home');
    await expectFocus(0);
  }

  test("a dataset's views: arrows, Home and End; the view is kept in the address", async () => {
    await page.goto(`${server?.url}#/datasets/${ids.datasetId}`);
    await connected(page);
    const bar = page.getByRole('tablist', { name: 'Views of the version' });
    await bar.getByRole('tab', { name: /^Rows/ }).focus();
    await walk(bar, [/^Rows/, /Token lengths/, /Rejected lines/, /Duplicates & split/]);
    await page.keyboard.press('End');
    await page.waitForFunction(() => location.hash.endsWith('/tools'));
    await page.getByRole('tabpanel').getByRole('button', { name: 'Find duplicates' }).waitFor();
    // Tab leaves the bar (one stop) and goes to the panel's first control, not to the panel first
    // (bug: the panel was always a tab stop, so it took two presses to reach the controls).
    const focusedIn = () =>
      page.evaluate(() => {
        const e = document.activeElement;
        return {
          inPanel: e?.closest('[role="tabpanel"]') !== null,
          isPanel: e?.getAttribute('role') === 'tabpanel',
        };
      });
    await page.keyboard.press('Tab');
    assert.deepEqual(
      await focusedIn(),
      { inPanel: true, isPanel: false },
      "Tab goes to the panel's first control",
    );
    await page.keyboard.press('Shift+Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('role')),
      'tab',
      'Shift+Tab goes straight back to the tab',
    );
    // A panel with nothing to reach by keyboard (no rejected lines) is the stop itself.
    await page.keyboard.press('ArrowLeft');
    await page.getByTestId('rejected-view').waitFor();
    await page.keyboard.press('Tab');
    assert.deepEqual(
      await focusedIn(),
      { inPanel: true, isPanel: true },
      'a panel without controls is a tab stop',
    );
  });

  test('a row longer than its three lines can be read whole, and folded again', async () => {
    const file = join(tempDir('reft-e2e-keyboard-files-'), 'long.jsonl');
    const tail = 'THE END OF A LONG ANSWER';
    const rows = [
      { prompt: 'short', completion: 'fits' },
      { prompt: 'long', completion: `${'A sentence that goes on. '.repeat(400)}${tail}` },
    ];
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const ds = await rpc(client, 'datasets/import', { path: file });
    await page.goto(`${server?.url}#/datasets/${ds.dataset.id}/${ds.version.id}/rows`);
    await connected(page);
    const long = page.getByTestId('row-1');
    const more = long.getByRole('button', { name: 'Show all' });
    await more.waitFor();
    assert.equal(
      await page.getByTestId('row-0').getByRole('button', { name: 'Show all' }).count(),
      0,
      'a short row has none',
    );
    const height = async () => (await long.boundingBox())?.height ?? 0;
    const folded = await height();
    await more.focus();
    await page.keyboard.press('Enter');
    const less = long.getByRole('button', { name: 'Show less' });
    await less.waitFor();
    assert.equal(await less.getAttribute('aria-expanded'), 'true');
    const opened = await height();
    await screenshot(page, 'keyboard-long-row-open');
    assert.ok(opened > folded * 3, `the whole row is shown (${folded} → ${opened} px)`);
    // The end of the text is on screen once scrolled to.
    await long.getByText(tail).scrollIntoViewIfNeeded();
    await page.waitForFunction((t) => {
      const el = Array.from(document.querySelectorAll('[data-testid="row-1"] .val')).find((v) =>
        v.textContent?.endsWith(t),
      );
      return !!el && el.scrollHeight <= el.clientHeight + 1;
    }, tail);
    await less.focus();
    await page.keyboard.press('Space');
    await more.waitFor();
    assert.ok((await height()) <= folded + 1, 'folded back to three lines');
  });

  test('a conversation of 30 messages shows its first four until opened', async () => {
    const file = join(tempDir('reft-e2e-keyboard-files-'), 'chat.jsonl');
    const messages = Array.from({ length: 30 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: `Turn ${i + 1}`,
    }));
    writeFileSync(file, `${JSON.stringify({ messages })}\n`);
    const ds = await rpc(client, 'datasets/import', { path: file });
    await page.goto(`${server?.url}#/datasets/${ds.dataset.id}/${ds.version.id}/rows`);
    await connected(page);
    const row = page.getByTestId('row-0');
    await row.getByText('and 26 more').waitFor();
    assert.equal(await row.locator('.field').count(), 4);
    await row.getByRole('button', { name: 'Show all' }).click();
    await row.getByText('Turn 30', { exact: true }).waitFor();
    assert.equal(await row.locator('.field').count(), 30);
  });

  test("a row's rating stars are one tab stop; the arrows move among them, Enter rates", async () => {
    await page.goto(`${server?.url}#/datasets/${ids.datasetId}`);
    await connected(page);
    const row = page.getByTestId('row-0');
    await row.getByRole('button', { name: '1 star', exact: true }).focus();
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Add tag to row 0',
      'Tab leaves the stars for the next control',
    );
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="row-0"] [aria-label="3 stars"]')
          ?.getAttribute('aria-pressed') === 'true',
    );
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), '3 stars');
    // The stop is now on the rating: coming back with Shift+Tab lands on it.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), '3 stars');
    await page.keyboard.press('End');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), '5 stars');
    await page.keyboard.press('ArrowRight'); // wraps
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), '1 star');
  });

  test("a run's details: the same keys on the same component", async () => {
    ({ runId, adapterId } = await trainedOnDemo(client, {
      name: 'keys',
      layers: '0',
      rank: 2,
      maxSteps: 12,
      batchSize: 2,
    }));
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    const bar = page.getByTestId('run-detail').getByRole('tablist', { name: 'Run details' });
    await bar.getByRole('tab', { name: 'Charts' }).focus();
    await walk(bar, [/^Charts/, /^Probe answers/, /^Configuration/, /^Log/, /^Checkpoints/]);
  });

  test('a chart is one tab stop: the arrows step through its values, said once they rest; zoom buttons', async () => {
    // Bug: the values could only be read by hovering, zoom only by dragging, and the tooltip was a
    // live region inside an image.
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    const chart = page.getByTestId('loss-chart');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.locator('[role="status"], [role="img"]').count(), 0);
    const plot = chart.getByRole('application', { name: 'Loss' });
    const tip = chart.getByTestId('chart-tooltip');
    const tipStep = async () => Number(/^Step (\d+)/.exec((await tip.textContent()) ?? '')?.[1]);
    const said = await listenToAnnouncer(page);
    const saidSteps = async () => (await said()).filter((t) => /^Step \d+: /.test(t));
    await plot.focus();
    await page.keyboard.press('Home');
    await tip.waitFor();
    assert.equal(await tipStep(), 1);
    await page.waitForFunction(() => (window as unknown as { said: string[] }).said.length > 0);
    assert.match((await saidSteps())[0] ?? '', /^Step 1: loss \(raw\) [\d.]+; loss \(smoothed\) [\d.]+$/);
    // Four presses in a row: the tooltip follows each, the reader hears only where they stopped.
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await tipStep(), 5);
    await page.waitForFunction(() => (window as unknown as { said: string[] }).said.length > 1);
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(
      (await saidSteps()).map((t) => t.split(':')[0]),
      ['Step 1', 'Step 5'],
    );
    await page.keyboard.press('End');
    assert.equal(await tipStep(), 12);
    await page.keyboard.press('ArrowRight');
    assert.equal(await tipStep(), 12, 'no wrapping past the end');
    await screenshot(page, 'keyboard-chart-cursor');

    // The zoom buttons come just before the chart; zooming in centres on the cursor.
    const reset = chart.getByRole('button', { name: 'Reset zoom' });
    assert.equal(await reset.getAttribute('aria-disabled'), 'true');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Zoom in');
    await page.keyboard.press('Enter');
    const range = chart.getByTestId('chart-range');
    await range.waitFor();
    const [first, last] = ((await range.textContent()) ?? '').match(/\d+/g)?.map(Number) ?? [];
    assert.ok(
      first !== undefined && last !== undefined && first > 1 && last === 12,
      `zoomed: ${first}–${last}`,
    );
    await page.waitForFunction(
      (t) => (window as unknown as { said: string[] }).said.includes(t),
      `Loss: steps ${first} to ${last} shown`,
    );
    await page.keyboard.press('Tab'); // Zoom out
    await page.keyboard.press('Tab'); // Reset zoom
    await page.keyboard.press('Tab'); // the chart
    await page.keyboard.press('Home');
    assert.equal(await tipStep(), first, 'Home goes to the first step shown');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await range.waitFor({ state: 'detached' });
    assert.equal(await reset.getAttribute('aria-disabled'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Reset zoom', 'focus stays');

    // Dragging still zooms and double-clicking still resets.
    const box = await chart.locator('.u-over').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await range.waitFor();
    assert.equal(await reset.getAttribute('aria-disabled'), 'false');
    await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
    await range.waitFor({ state: 'detached' });
  });

  test("the Train wizard's layer diagram is one tab stop; arrows move, Space and Enter choose", async () => {
    // Bug: each layer was a tab stop of its own (32 presses of Tab across a 32-layer model).
    await page.goto(`${server?.url}#/train`);
    await connected(page);
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ value: String(ids.modelId) });
    await page.getByLabel('Dataset', { exact: true }).selectOption({ value: String(ids.datasetId) });
    await page.getByRole('button', { name: 'Step 2: Intervention' }).click();
    const diagram = page.getByRole('group', { name: 'Layers of the model, from input to output' });
    await diagram.getByRole('button').first().waitFor();
    const stops = () =>
      diagram.getByRole('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('tabindex')));
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    const said = await listenToAnnouncer(page);
    const saidCount = (n: number) =>
      page.waitForFunction((k) => (window as unknown as { said: string[] }).said.length >= k, n);
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await saidCount(1);
    assert.deepEqual(await stops(), ['0', '-1', '-1', '-1']);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'layer-0', 'Tab from Clear goes into the diagram');
    await page.keyboard.press('Tab');
    assert.notEqual((await focused())?.startsWith('layer-'), true, 'the next Tab leaves it');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'layer-0');
    await page.keyboard.press('Space');
    await saidCount(2);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'layer-2');
    await page.keyboard.press('Enter');
    assert.equal(await textWhen(page.getByTestId('layer-count'), '2 of 4 layers'), '2 of 4 layers');
    assert.equal(await page.getByTestId('layer-2').getAttribute('aria-pressed'), 'true');
    assert.deepEqual(await stops(), ['-1', '-1', '0', '-1'], 'the stop is where the arrows left it');
    await saidCount(3);
    assert.deepEqual(await said(), ['0 of 4 layers chosen', '1 of 4 layers chosen', '2 of 4 layers chosen']);
    await page.keyboard.press('End');
    assert.equal(await focused(), 'layer-3');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'layer-0', 'wraps');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(), 'layer-3');
  });

  test('a dialog keeps Tab inside, both ways; Escape closes it and focus goes back', async () => {
    await page.goto(`${server?.url}#/models`);
    await connected(page);
    const remove = page.getByTestId('models-table').getByRole('button', { name: 'Remove' }).first();
    await remove.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('remove-model-dialog');
    await dialog.waitFor();
    const focused = () =>
      page.evaluate(() => {
        const e = document.activeElement;
        return e?.closest('dialog') ? e.textContent?.trim() : `outside: ${e?.tagName}`;
      });
    assert.equal(await focused(), 'Keep');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Remove');
    // Bug: the next Tab left the modal for <body> (the desktop app has no browser controls to go to).
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Keep', 'Tab from the last control wraps to the first');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Remove', 'Shift+Tab from the first wraps to the last');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Remove');
    assert.equal(await page.getByTestId('models-table').count(), 1, 'nothing was removed');
  });

  test('a closed panel gives focus back to what opened it, not to the top of the window', async () => {
    const focused = () =>
      page.evaluate(() => {
        const e = document.activeElement;
        return e === document.body ? 'body' : `${e?.id} ${e?.textContent?.trim()}`;
      });
    // A dataset, by its Close button.
    await page.goto(`${server?.url}#/datasets/${ids.datasetId}`);
    await connected(page);
    await page.getByTestId('row-0').waitFor();
    await page.getByRole('button', { name: 'Close the dataset' }).press('Enter');
    await page.getByTestId('dataset-view').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement !== document.body);
    assert.equal(await focused(), `open-dataset-${ids.datasetId} Open`);
    // A run, by Escape from its tabs.
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    await page.getByRole('tab', { name: 'Log' }).focus();
    await page.keyboard.press('Escape');
    await page.getByTestId('run-detail').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement !== document.body);
    assert.equal(await focused(), `open-run-${runId} keys`);
    // An adapter, by its × button.
    await page.goto(`${server?.url}#/adapters/${adapterId}`);
    await connected(page);
    await page.getByRole('button', { name: 'Close adapter details' }).press('Enter');
    await page.getByTestId('adapter-detail').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement !== document.body);
    assert.equal(await focused(), `open-adapter-${adapterId} Details`);
    assert.deepEqual(pageErrors, []);
  });
});
