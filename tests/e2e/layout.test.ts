// End-to-end at 1000×700 (a small laptop window) in both themes: the Runs, Adapters, Playground and
// Settings pages (with a run's detail and an adapter's detail open) fit — no card wider than the page,
// no button cut off at the right edge —, every form control has a name, the skip button comes first
// in the tab order, and Escape closes the open panel. At 900 px wide the Models, Datasets, Train and
// Settings pages fit too; at 800 px the sections become a rail of icons and every page fits; a
// section opens at its top. Screenshots under tests/e2e/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  demoIds,
  openPage,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

/** What does not fit: cards wider than their box, controls past the right edge, unnamed controls. */
async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const main = document.querySelector('main') as HTMLElement;
    if (main.scrollWidth > main.clientWidth + 1)
      out.push(`main scrolls sideways (${main.scrollWidth} > ${main.clientWidth})`);
    for (const t of Array.from(document.querySelectorAll<HTMLElement>('main .flush'))) {
      if (t.scrollWidth > t.clientWidth + 1)
        out.push(`table ${t.querySelector('table')?.dataset.testid ?? ''} scrolls sideways`);
    }
    for (const c of Array.from(document.querySelectorAll<HTMLElement>('main .card'))) {
      // A table may scroll inside its card (overflow-x: auto); the card itself must not stick out.
      const r = c.getBoundingClientRect();
      if (r.right > main.getBoundingClientRect().right + 1)
        out.push(`card ${c.dataset.testid ?? c.className} sticks out`);
    }
    for (const b of Array.from(
      document.querySelectorAll<HTMLElement>('main button, main a.button, main input, main select'),
    )) {
      const r = b.getBoundingClientRect();
      if (r.width === 0) continue;
      const scroller = b.closest('.scroll, .strip, .tabs');
      if (!scroller && r.right > window.innerWidth + 1)
        out.push(`"${b.textContent?.trim() || b.getAttribute('aria-label') || b.id}" is cut off`);
    }
    for (const el of Array.from(
      document.querySelectorAll<HTMLElement>('main input, main select, main textarea'),
    )) {
      if ((el as HTMLInputElement).type === 'hidden' || el.closest('[hidden]')) continue;
      const named =
        el.getAttribute('aria-label') ||
        el.getAttribute('aria-labelledby') ||
        (el.id && document.querySelector(`label[for="${el.id}"]`)) ||
        el.closest('label');
      if (!named) out.push(`unnamed ${el.tagName.toLowerCase()}#${el.id}`);
    }
    return out;
  });
}

describe('layout at 1000×700 and keyboard use', { skip, timeout: 600_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  let runId: number;
  let adapterId: number;

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-layout-')));
    ({ runId, adapterId } = await trainedOnDemo(client, {
      name: 'a run with a rather long name to see how it wraps',
      layers: '0;1',
      rank: 2,
      maxSteps: 8,
      probe: { prompts: ['Who are you?'], every: 4, maxNewTokens: 4 },
    }));
    await rpc(client, 'adapters/tag', { id: adapterId, add: ['pirate', 'demo'] });
    page = await openPage(browser, {
      viewport: { width: 1000, height: 700 },
      timeout: 30_000,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  /** Opens each [hash, test id] page, checks its layout at the top, and saves `shot`-<page>.png. */
  async function checkPages(pages: Array<[string, string]>, shot: string | null): Promise<void> {
    for (const [hash, testid] of pages) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
      await page.getByTestId(testid).first().waitFor();
      await page.waitForTimeout(300);
      await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 0));
      assert.deepEqual(await layoutProblems(page), [], hash);
      if (shot) await screenshot(page, `${shot}-${hash.split('/')[1]}`);
    }
  }

  /** The pages checked in both themes (with a run's and an adapter's detail open), and at 800 px. */
  const runAndAdapterPages = (): Array<[string, string]> => [
    ['#/runs', 'run-progress-1'],
    [`#/runs/${runId}`, 'run-detail'],
    ['#/adapters', 'adapters-table'],
    [`#/adapters/${adapterId}`, 'adapter-detail'],
    ['#/playground', 'chat-base'],
    ['#/settings', 'settings-data-dir'],
  ];

  for (const themeName of ['light', 'dark'] as const) {
    test(`${themeName}: each page fits and names its controls`, async () => {
      await page.evaluate((t) => {
        document.documentElement.dataset.theme = t;
      }, themeName);
      await checkPages(runAndAdapterPages(), `layout-${themeName}`);
    });
  }

  test('at 900 px wide the Models, Datasets, Train and Settings pages fit; card headings match', async () => {
    await page.setViewportSize({ width: 900, height: 700 });
    try {
      const pages: Array<[string, string]> = [
        ['#/models', 'models-table'],
        ['#/datasets', 'dataset-drop'],
        ['#/train', 'train-form'],
        ['#/settings', 'cuda-runtime'],
      ];
      await checkPages(pages, 'layout-900');
      // Every card's heading on Settings at one size (the CUDA card's was the browser's default h2).
      const sizes = await page.evaluate(() =>
        Array.from(document.querySelectorAll('main .card > h2')).map((h) => getComputedStyle(h).fontSize),
      );
      assert.ok(sizes.length >= 4, `${sizes.length} card headings`);
      assert.deepEqual(new Set(sizes).size, 1, sizes.join(', '));
    } finally {
      await page.setViewportSize({ width: 1000, height: 700 });
    }
  });

  test('the skip button is first; Escape closes a run, an adapter and a dialog', async () => {
    await page.evaluate(() => {
      location.hash = '#/runs';
    });
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the page');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'MAIN');

    await page.evaluate((id) => {
      location.hash = `#/runs/${id}`;
    }, runId);
    await page.getByTestId('run-detail').waitFor();
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByTestId('delete-dialog').getByRole('button', { name: 'Keep it' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('delete-dialog').waitFor({ state: 'hidden' });
    await page.getByTestId('run-detail').waitFor();
    // Focus is back on the button that opened the dialog.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Delete…');
    await page.keyboard.press('Escape');
    await page.getByTestId('run-detail').waitFor({ state: 'detached' });

    await page.evaluate((id) => {
      location.hash = `#/adapters/${id}`;
    }, adapterId);
    await page.getByTestId('adapter-detail').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('adapter-detail').waitFor({ state: 'detached' });
  });

  test('at 800 px the sections are a rail of named icons and every page fits', async () => {
    // Bug: the 210 px section list kept its width at 800 px, a quarter of the window, squeezing
    // every table (names and dates broken a word or a few letters a line).
    await page.setViewportSize({ width: 800, height: 700 });
    try {
      await page.waitForFunction(() => innerWidth === 800);
      const nav = page.getByRole('navigation', { name: 'Sections' });
      const navBox = await nav.boundingBox();
      assert.ok(navBox && navBox.width <= 64, `the sections take ${navBox?.width} px`);
      for (const name of ['Models', 'Datasets', 'Train', 'Runs', 'Adapters', 'Playground', 'Settings'])
        assert.equal(await nav.getByRole('link', { name }).isVisible(), true, name);
      await checkPages(
        [
          ['#/models', 'models-table'],
          ['#/datasets', 'dataset-drop'],
          ['#/train', 'train-form'],
          ...runAndAdapterPages(),
        ],
        'layout-800',
      );
      assert.ok(
        await page.evaluate(() => (document.querySelector('main') as HTMLElement).clientWidth >= 700),
        'the page gets the width',
      );
    } finally {
      await page.setViewportSize({ width: 1000, height: 700 });
    }
  });

  test('a section opens at its top, not at the offset the last page was scrolled to', async () => {
    // Bug: <main> scrolls every page and kept its offset: Train opened 730 px down after Settings.
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('settings-data-dir').waitFor();
    await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 100_000));
    assert.ok((await page.evaluate(() => document.querySelector('main')?.scrollTop ?? 0)) > 200);
    await page.getByTestId('nav-train').click();
    await page.getByTestId('train-form').waitFor();
    assert.equal(await page.evaluate(() => document.querySelector('main')?.scrollTop), 0);
    await page.getByRole('heading', { level: 1, name: 'Train' }).waitFor();
  });

  test('a section entered at a detail opens at that detail, below the list', async () => {
    // Bug: #/datasets/ID/tools typed or reloaded, or a link from another page such as a run's
    // "#1 in Adapters", opened the section at its top: the detail sat below the list, out of sight.
    await page.setViewportSize({ width: 800, height: 500 });
    try {
      const { datasetId } = await demoIds(client);
      for (const [hash, testid] of [
        [`#/datasets/${datasetId}/tools`, 'dataset-view'],
        [`#/adapters/${adapterId}`, 'adapter-detail'],
        [`#/runs/${runId}`, 'run-detail'],
      ]) {
        await page.getByTestId('nav-settings').click();
        await page.getByTestId('settings-data-dir').waitFor();
        await page.evaluate((h) => {
          location.hash = h;
        }, hash);
        const detail = page.getByTestId(testid);
        await detail.waitFor();
        await page.waitForFunction(
          (id) => {
            const r = document.querySelector(`[data-testid="${id}"]`)?.getBoundingClientRect();
            return !!r && r.top > -2 && r.top < innerHeight - 100;
          },
          testid,
          { timeout: 5000 },
        );
        // The datasets list stands above its detail, taller than this window: scrolled down to it.
        if (testid === 'dataset-view')
          assert.ok((await page.evaluate(() => document.querySelector('main')?.scrollTop ?? 0)) > 0, hash);
      }
    } finally {
      await page.setViewportSize({ width: 1000, height: 700 });
    }
  });

  test('names of 200 characters without a space wrap: lists, details and the comparison still fit', async () => {
    // Bug: such a name widened the Runs and Adapters tables past the window (the other columns
    // squeezed to a word a line), pushed a detail's close button out of its card, and ran the
    // comparison's chart legends over each other.
    const long = await trainedOnDemo(client, { name: 'R'.repeat(200), maxSteps: 2 });
    const longAdapter = long.adapterId;
    await rpc(client, 'adapters/rename', { id: longAdapter, name: 'A'.repeat(200) });
    const pages: Array<[string, string]> = [
      ['#/runs', `run-progress-${long.runId}`],
      [`#/runs/${long.runId}`, 'run-detail'],
      [`#/runs/compare/${runId},${long.runId}`, 'run-compare'],
      ['#/adapters', 'adapters-table'],
      [`#/adapters/${longAdapter}`, 'adapter-detail'],
    ];
    await checkPages(pages, null);
    await page.evaluate((id) => {
      location.hash = `#/runs/${id}`;
    }, long.runId);
    const detail = page.getByTestId('run-detail');
    await detail.waitFor();
    const [card, close] = await Promise.all([
      detail.boundingBox(),
      detail.getByRole('link', { name: 'Close run details' }).boundingBox(),
    ]);
    assert.ok(
      card && close && close.x + close.width <= card.x + card.width,
      'the close button is in the card',
    );
    await screenshot(page, 'layout-long-names-run');
  });
});
