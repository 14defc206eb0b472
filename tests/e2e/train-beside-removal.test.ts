// End-to-end: the Train wizard open in one window while another window (here an RPC client, as any
// other window is) or the CLI imports and removes datasets. A dataset imported there can be chosen
// here without a reload, and one removed there while chosen here is let go with a note saying why,
// the wizard back at the step where it is chosen. Before, the wizard's lists were read once: the
// new dataset was missing, and the removed one stayed chosen until Start answered "no dataset with
// id N".

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RpcClient, writeJsonl } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import { closeStudio, openPage, rpc, type Served, skip, startStudio } from './helpers.ts';

describe('the Train wizard beside another window', { skip, timeout: 300_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient;
  let page: Page;
  const pageErrors: string[] = [];
  const dataDir = tempDir('reft-e2e-train-beside-');
  const files = tempDir('reft-e2e-train-beside-files-');

  before(async () => {
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: `${server.url}#/train`,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('follows datasets imported and removed elsewhere', async () => {
    await page.locator('#train-dataset').waitFor();
    const rows = join(files, 'elsewhere.jsonl');
    writeJsonl(rows, 12);
    const imported = await rpc(client, 'datasets/import', { path: rows, name: 'from another window' });
    const id = imported.dataset.id as number;
    // It is offered here without a reload, and chosen.
    await page.locator(`#train-dataset option[value="${id}"]`).waitFor({ state: 'attached' });
    await page.locator('#train-dataset').selectOption(String(id));
    await page.getByRole('button', { name: 'Next' }).click();
    await page
      .getByRole('button', { name: /^Step 2: / })
      .and(page.locator('[aria-current="step"]'))
      .waitFor();

    await rpc(client, 'datasets/remove', { id });
    await page
      .getByTestId('chosen-gone-note')
      .getByText(/^The dataset chosen for this run is no longer in the library/)
      .waitFor();
    await page.locator('#wizard-step-0[aria-current="step"]').waitFor();
    assert.equal(await page.locator(`#train-dataset option[value="${id}"]`).count(), 0);
    assert.notEqual(await page.locator('#train-dataset').inputValue(), String(id));
    assert.deepEqual(pageErrors, []);
  });
});
