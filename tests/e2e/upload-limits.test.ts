// End-to-end: a file over an upload's limit is refused in the window before anything is sent, in the
// backend's words (library/upload-limits.ts uploadLimitText: the numbers and byteSize's units of the
// limit the backend enforces), for the bytes and for the number of files. The files are sparse:
// gigabytes on no disk, never read.

import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { UPLOAD_LIMITS, uploadLimitText } from '../../electron/backend/library/upload-limits.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  ensureRendererBuilt,
  launchBrowser,
  openPage,
  type Served,
  skip,
  startServer,
} from './helpers.ts';

/** A file of `bytes` that takes no room on the disk. */
function sparse(name: string, bytes: number): string {
  const path = join(tempDir('reft-e2e-upload-limits-files-'), name);
  writeFileSync(path, '');
  truncateSync(path, bytes);
  return path;
}

describe('upload limits in the window (reft-studio serve + Chromium)', { skip, timeout: 120_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    ensureRendererBuilt();
    server = await startServer(tempDir('reft-e2e-upload-limits-'));
    browser = await launchBrowser();
    page = await openPage(browser, { viewport: { width: 1280, height: 900 }, errors, url: server.url });
  });

  after(() => closeStudio({ browser, server }));

  test('a dataset over 4 GB and an adapter over 1 GB: the limit as the backend says it', async () => {
    assert.ok(server);
    await page.goto(`${server.url}#/datasets`);
    await page.getByTestId('dataset-file').setInputFiles(sparse('huge.jsonl', 4.5e9));
    await page
      .getByTestId('dataset-import')
      .getByText('That is 4.5 GB; a dataset upload takes at most 4.0 GB in 100 files.', { exact: true })
      .waitFor();

    await page.goto(`${server.url}#/adapters`);
    const imp = page.getByTestId('adapter-import');
    await imp.getByTestId('import-zip').setInputFiles(sparse('huge.zip', 1.5e9));
    await imp
      .getByText('That is 1.5 GB; an adapter upload takes at most 1.0 GB in 2000 files.', { exact: true })
      .waitFor();
    assert.deepEqual(errors, []);
  });

  test('a folder of more files than an adapter upload takes: refused before anything is sent', async () => {
    assert.ok(server);
    const { maxFiles } = UPLOAD_LIMITS.adapter;
    const folder = tempDir('reft-e2e-upload-limits-many-');
    for (let i = 0; i <= maxFiles; i++) writeFileSync(join(folder, `intkey_${i}.bin`), '');
    await page.goto(`${server.url}#/adapters`);
    const imp = page.getByTestId('adapter-import');
    await imp.getByTestId('import-folder').setInputFiles(folder);
    // Before, the upload started and the backend refused it: "2001 files: an adapter upload takes…".
    await imp
      .getByText(`That is ${maxFiles + 1} files; ${uploadLimitText('adapter')}.`, { exact: true })
      .waitFor();
    assert.equal(await imp.getByRole('button', { name: 'Import' }).isDisabled(), true);
    assert.deepEqual(errors, []);
  });
});
