// End-to-end: the Datasets page's "Duplicates & split" view. Its address opens it on a fresh load,
// with or without a version in it (#/datasets/ID/tools opened the rows instead), and Find duplicates
// searches near-duplicates only when "Near-duplicates too" is ticked (the box was not sent, so every
// search looked for near ones, minutes on a big version).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import { closeStudio, connected, openPage, rpc, type Served, skip, startStudio } from './helpers.ts';

describe('the dataset tools view (reft-studio serve + Chromium)', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  let datasetId: number;
  let versionId: number;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-dataset-tools-')));
    // Six rows alike but for their last word: 15 near-duplicate pairs, no exact one.
    const file = join(tempDir('reft-e2e-dataset-tools-files-'), 'alike.jsonl');
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        prompt:
          'Describe the harbour at dawn, when the fishing boats come back with the tide and the gulls follow',
        completion: `The harbour wakes slowly under a pale sky, variant ${'abcdef'[i]}`,
      }),
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await rpc(client, 'datasets/import', { path: file });
    datasetId = r.dataset.id;
    versionId = r.version.id;
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  /** Loads the page afresh at a datasets address and waits for the tools view's buttons. */
  async function openAt(rest: string): Promise<void> {
    await page.goto(`${server?.url}#/datasets/${rest}`);
    await page.reload(); // a fresh load at that address, not a hash change in a loaded page
    await connected(page);
    await page
      .getByRole('tabpanel')
      .getByRole('button', { name: 'Find duplicates' })
      .waitFor({ timeout: 10_000 });
    const selected = page.getByRole('tab', { selected: true });
    assert.match((await selected.textContent()) ?? '', /Duplicates & split/);
  }

  test('#/datasets/ID/tools and #/datasets/ID/VERSION/tools open the tools on a fresh load', async () => {
    await openAt(`${datasetId}/tools`);
    await openAt(`${datasetId}/${versionId}/tools`);
    assert.deepEqual(pageErrors, []);
  });

  test('Find duplicates looks for near-duplicates only when the box is ticked', async () => {
    await openAt(`${datasetId}/${versionId}/tools`);
    const panel = page.getByRole('tabpanel');
    const result = panel.getByTestId('duplicates-result');
    await panel.getByRole('button', { name: 'Find duplicates' }).click();
    await result.waitFor();
    assert.match((await result.textContent()) ?? '', /(^|\D)0 exact pairs, 0\s+near-duplicate pairs\./);
    await panel.getByLabel('Near-duplicates too').check();
    await panel.getByRole('button', { name: 'Find duplicates' }).click();
    await result.getByText(/15\s+near-duplicate pairs/).waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
