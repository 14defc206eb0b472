// End-to-end: two windows (and a third client, over RPC) on one `reft-studio serve`, with the same
// dataset version open. A rating or tag given in one shows in the other without reopening it, where
// that one is scrolled (row 250 of 700: past the first block of rows), and an edit open there, or a
// tag being typed, is not lost. A row edited elsewhere makes a new version the other window can pick;
// a save in a window whose editor opened on the latest before that is refused, not a new latest.
// Rows whose load the server's going away cut off load once it is back, and the error goes.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  cutOffServer,
  openPage,
  rpc,
  type Served,
  skip,
  startServer,
  startStudio,
} from './helpers.ts';

/** Rows in the dataset: four blocks of the list's (200), so a scroll to the end loads one not loaded yet. */
const ROWS = 700;

describe('dataset rows follow annotations made elsewhere', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let a: Page;
  let b: Page;
  let datasetId: number;
  let versionId: number;
  const pageErrors: string[] = [];
  const dataDir = tempDir('reft-e2e-dataset-sync-');

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    const file = join(tempDir('reft-e2e-dataset-sync-files-'), 'many.jsonl');
    const rows = Array.from({ length: ROWS }, (_, i) => ({
      prompt: `Prompt ${i}`,
      completion: `Answer ${i}`,
    }));
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const imported = await rpc(client, 'datasets/import', { path: file });
    datasetId = imported.dataset.id;
    versionId = imported.version.id;
    const open = (b: Browser) =>
      openPage(b, {
        viewport: { width: 1280, height: 900 },
        errors: pageErrors,
        url: `${server?.url}#/datasets/${datasetId}/${versionId}/rows`,
      });
    [a, b] = [await open(browser), await open(browser)];
  });

  after(() => closeStudio({ client, browser, server }));

  /**
   * Scrolls a page's row list until row `index` is in it. Aimed again on every poll: rows are
   * measured as they render, so the list's height (and where row `index` sits) can change after a
   * first scroll, which then lands a screen or more off.
   */
  const scrollTo = async (page: Page, index: number) => {
    await page.waitForFunction(
      ([i, n]) => {
        const el = document.querySelector('.vlist');
        if (!el) return false;
        if (el.querySelector(`[data-testid="row-${i}"]`)) return true;
        el.scrollTop = (el.scrollHeight / n) * i;
        return false;
      },
      [index, ROWS],
      { polling: 100 },
    );
  };
  const stars = (page: Page, index: number, n: number) =>
    page.getByTestId(`row-${index}`).getByRole('button', { name: `${n} star${n === 1 ? '' : 's'}` });

  test('a rating and a tag given in one window show in the other, scrolled where it was', async () => {
    await scrollTo(a, 250);
    await scrollTo(b, 250);
    const scrolled = await b.locator('.vlist').evaluate((el) => el.scrollTop);
    await stars(a, 250, 4).click();
    await a.getByLabel('Add tag to row 250').fill('checked');
    await a.getByLabel('Add tag to row 250').press('Enter');
    await b.getByTestId('row-250').getByText('checked').waitFor();
    await b.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="row-250"] [aria-label="4 stars"]')
          ?.getAttribute('aria-pressed') === 'true',
    );
    assert.equal(await b.locator('.vlist').evaluate((el) => el.scrollTop), scrolled, 'the list did not move');
    // Removed in the other window: gone here too.
    await b.getByTestId('row-250').getByRole('button', { name: 'Remove tag checked' }).click();
    await a.getByTestId('row-250').getByText('checked').waitFor({ state: 'detached' });
  });

  test('another client annotating keeps a tag being typed and an edit open in this window', async () => {
    // A tag half typed in one row, and the editor open on another.
    await b.getByLabel('Add tag to row 251').fill('half-typ');
    await b.getByTestId('row-252').getByRole('button', { name: 'Edit row 252' }).click();
    const editor = b.getByTestId('row-editor');
    const draft = editor.getByLabel('Row as JSON');
    await draft.fill('{"prompt": "Prompt 252, edited", "completion": "Answer 252"}');
    await rpc(client, 'datasets/annotate', { datasetId, versionId, indices: [251, 252], rating: 2 });
    await b.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="row-251"] [aria-label="2 stars"]')
          ?.getAttribute('aria-pressed') === 'true',
    );
    assert.equal(await draft.inputValue(), '{"prompt": "Prompt 252, edited", "completion": "Answer 252"}');
    assert.equal(await b.getByLabel('Add tag to row 251').inputValue(), 'half-typ');
    await editor.getByRole('button', { name: 'Cancel' }).click();
  });

  test('a row edited in one window: the other can pick the new version, which keeps the annotations', async () => {
    await a.getByTestId('row-250').getByRole('button', { name: 'Edit row 250' }).click();
    const editor = a.getByTestId('row-editor');
    await editor
      .getByLabel('Row as JSON')
      .fill('{"prompt": "Prompt 250, edited", "completion": "Answer 250"}');
    await editor.getByRole('button', { name: 'Save as new version' }).click();
    // B still shows the version it had open, and offers the new one.
    const select = b.getByTestId('dataset-version');
    await b.waitForFunction(
      () =>
        (document.querySelector('[data-testid="dataset-version"]') as HTMLSelectElement | null)?.options
          .length === 2,
    );
    const latest = (await rpc(client, 'datasets/get', { id: datasetId })).latest.id;
    await select.selectOption(String(latest));
    await scrollTo(b, 250);
    await b.getByTestId('row-250').getByText('Prompt 250, edited').waitFor();
    await b.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="row-250"] [aria-label="4 stars"]')
          ?.getAttribute('aria-pressed') === 'true',
    );
  });

  test('two windows editing the latest version: the second save is refused, not the first edit lost', async () => {
    // Both show the latest version (the last test's); B opens a row, A saves an edit of another first.
    await b.getByTestId('row-251').getByRole('button', { name: 'Edit row 251' }).click();
    const editorB = b.getByTestId('row-editor');
    await editorB
      .getByLabel('Row as JSON')
      .fill('{"prompt": "Prompt 251, edited in B", "completion": "Answer 251"}');
    await scrollTo(a, 250);
    await a.getByTestId('row-250').getByRole('button', { name: 'Edit row 250' }).click();
    const editorA = a.getByTestId('row-editor');
    await editorA
      .getByLabel('Row as JSON')
      .fill('{"prompt": "Prompt 250, edited in A", "completion": "Answer 250"}');
    await editorA.getByRole('button', { name: 'Save as new version' }).click();
    await editorA.waitFor({ state: 'hidden' });
    const afterA = (await rpc(client, 'datasets/get', { id: datasetId })).latest;
    // Bug: B's save made a newer latest from the version it had open, without A's edit.
    await editorB.getByRole('button', { name: 'Save as new version' }).click();
    await editorB
      .getByText(/got version \d+ while this edit of version \d+ ran: nothing was stored/)
      .waitFor();
    assert.equal((await rpc(client, 'datasets/get', { id: datasetId })).latest.id, afterA.id);
    // B's draft is still there, to make again on the new version.
    assert.match(await editorB.getByLabel('Row as JSON').inputValue(), /edited in B/);
    await editorB.getByRole('button', { name: 'Cancel' }).click();
  });

  test('rows cut off by the server going away load when it is back, and the error goes', async () => {
    await b.locator('.vlist').evaluate((el) => {
      el.scrollTop = 0;
    });
    await b.getByTestId('row-0').waitFor();
    // The request for the rows further down is in flight when the server dies.
    await cutOffServer(server, async () => {
      await b.locator('.vlist').evaluate((el) => {
        el.scrollTop = el.scrollHeight;
      });
      await b.locator('.row.placeholder').first().waitFor();
    });
    await b.getByRole('alert').getByText('Could not load rows.').waitFor();
    // In words, without the RPC method ("datasets/rows: the connection to the backend was lost").
    await b
      .getByRole('alert')
      .getByText(/^The connection to the studio was lost before it answered/)
      .waitFor();
    server = await startServer(dataDir);
    await connected(b);
    // The last block's rows, with no scroll to ask for them.
    await b
      .getByTestId(/^row-6\d\d$/)
      .first()
      .waitFor();
    assert.equal(await b.locator('.row.placeholder').count(), 0, 'no row left "Loading…"');
    await b.getByRole('alert').getByText('Could not load rows.').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });
});
