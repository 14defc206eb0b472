// End-to-end: a button disabled until the field beside it is filled says why (its title, which is
// also its accessible description), as the recipe cards already did; once the field is filled it is
// enabled and the reason is gone. Before, Add model, Import, Tag, Export to folder, Send and Save token
// were greyed out with nothing to tell the user what they were waiting for.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  DEMO_MODEL,
  openPage,
  type Served,
  skip,
  startStudio,
  trainedOnDemo,
} from './helpers.ts';

describe('Disabled buttons say why (reft-studio serve + Chromium)', { skip, timeout: 600_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-disabled-')));
    // One adapter, for its Tag and Export to folder.
    await trainedOnDemo(client, { name: 'tagged', layers: '0', maxSteps: 2 });
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: `${server.url}#/models`,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  /** The button is disabled with `reason` as its description; filling `field` enables it without one. */
  async function saysWhy(button: Locator, reason: string, field: Locator, value: string): Promise<void> {
    assert.equal(await button.isDisabled(), true);
    assert.equal(await button.getAttribute('title'), reason);
    await field.fill(value);
    await page.waitForFunction((b) => !(b as HTMLButtonElement).disabled, await button.elementHandle());
    assert.equal(await button.getAttribute('title'), null);
    await field.fill('');
  }

  test('Models: Add model', async () => {
    await page.getByTestId('nav-models').click();
    await saysWhy(
      page.getByRole('button', { name: 'Add model' }),
      'Type or choose the model folder’s path first',
      page.locator('#model-path'),
      '/somewhere',
    );
  });

  test('Datasets: Import', async () => {
    await page.getByTestId('nav-datasets').click();
    await saysWhy(
      page.getByRole('button', { name: 'Import', exact: true }),
      'Choose a file or type its path first',
      page.locator('#ds-path'),
      '/somewhere/train.jsonl',
    );
  });

  test('Adapters: Tag, Export to folder, Import', async () => {
    await page.getByTestId('nav-adapters').click();
    const tagField = page.getByLabel('New tag for tagged');
    await saysWhy(
      page.locator('form.tag-form').getByRole('button', { name: 'Tag' }),
      'Type a tag first',
      tagField,
      'keep',
    );
    const importButton = page.getByRole('button', { name: 'Import', exact: true });
    assert.equal(await importButton.getAttribute('title'), 'Choose an adapter folder or .zip first');
    await page.locator('[id^="open-adapter-"]').first().click();
    await saysWhy(
      page.getByRole('button', { name: 'Export to folder' }),
      'Type or choose a folder first',
      page.getByLabel('Or write into a folder'),
      '/tmp/somewhere',
    );
  });

  test('Playground: Send', async () => {
    await page.getByTestId('nav-playground').click();
    await page.locator('#pg-model').selectOption({ label: DEMO_MODEL });
    await saysWhy(
      page.getByRole('button', { name: 'Send' }),
      'Type a message first',
      page.locator('#pg-message'),
      'Hello',
    );
  });

  test('Settings: Save token', async () => {
    await page.getByTestId('nav-settings').click();
    await saysWhy(
      page.getByRole('button', { name: 'Save token' }),
      'Paste a token first',
      page.locator('#set-token'),
      'hf_abc',
    );
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
