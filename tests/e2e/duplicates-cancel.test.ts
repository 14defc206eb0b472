// End-to-end: a duplicate search of a big version can be cancelled from the Datasets page; the
// page says so, changes nothing, and can search again. (The backend side: tests/backend/duplicates-cancel.test.ts.)

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import { closeStudio, connected, openPage, rpc, type Served, skip, startStudio } from './helpers.ts';

describe('cancelling a duplicate search (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let datasetId: number;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-dup-cancel-')));
    // Rows alike enough that the near search takes seconds (about 5 s for 40,000 on a 2-core VM).
    const file = join(tempDir('reft-e2e-dup-cancel-files-'), 'voyages.jsonl');
    const lines = Array.from({ length: 40_000 }, (_, i) =>
      JSON.stringify({
        prompt: `Question ${i}: where does the ship sail after port ${i % 97}?`,
        completion: `To the island of ${i} and then ${'onwards '.repeat(i % 7)}home.`,
      }),
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    datasetId = (await rpc(client, 'datasets/import', { path: file })).dataset.id;
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('Cancel stops the search; nothing changes and the page can search again', async () => {
    await page.goto(`${server?.url}#/datasets/${datasetId}`);
    await connected(page);
    const view = page.getByTestId('dataset-view');
    await view.getByRole('tab', { name: /Duplicates & split/ }).click();
    const panel = view.getByRole('tabpanel');
    await panel.getByRole('button', { name: 'Drop duplicates' }).click();
    await panel.getByTestId('cancel-duplicates').click();
    await panel.getByTestId('dup-cancelled').getByText('Search cancelled: nothing was changed.').waitFor();
    assert.equal(await panel.getByTestId('cancel-duplicates').count(), 0, 'no search left to cancel');
    assert.ok(await panel.getByRole('button', { name: 'Find duplicates' }).isEnabled());
    const ds = await rpc(client, 'datasets/get', { id: datasetId });
    assert.equal(ds.versions.length, 1, 'no version was made');
    assert.deepEqual(pageErrors, []);
  });
});
