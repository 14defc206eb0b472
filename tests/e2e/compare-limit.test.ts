// End-to-end: the Runs page compares at most COMPARE_MAX_RUNS runs (one chart, a colour each). A
// ninth tick was taken while Compare silently showed the first eight; now, with eight ticked, the
// other ticks are disabled and say why (their title, the toolbar's note, said aloud), and unticking
// one lets another be ticked.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { COMPARE_MAX_RUNS } from '../../electron/backend/jobs/sweep-params.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { createRun, setRunStatus } from '../../electron/backend/library/runs.ts';
import { type RpcClient, waitFor } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  listenToAnnouncer,
  openPage,
  type Served,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

describe('Runs page: ticks for comparing stop at what one chart shows (reft-studio serve + Chromium)', {
  skip,
  timeout: 120_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let client: RpcClient | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    const dataDir = tempDir('reft-e2e-compare-limit-');
    const lib = openLibrary(dataDir);
    for (let i = 1; i <= COMPARE_MAX_RUNS + 1; i++)
      setRunStatus(lib, createRun(lib, { name: `try ${i}` }).id, 'cancelled');
    closeLibrary(lib);
    ({ server, client, browser } = await startStudio(dataDir));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      errors: pageErrors,
      url: `${server.url}#/runs`,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test(`${COMPARE_MAX_RUNS} ticked: the others are disabled and say why; Compare takes all that are ticked`, async () => {
    const tick = (i: number) => page.getByLabel(`Compare try ${i}`, { exact: true });
    const said = await listenToAnnouncer(page);
    for (let i = 1; i <= COMPARE_MAX_RUNS; i++) await tick(i).check();
    const why = `Compare shows at most ${COMPARE_MAX_RUNS} runs on one chart: untick one to tick another.`;
    const ninth = tick(COMPARE_MAX_RUNS + 1);
    assert.equal(await textWhen(page.getByTestId('compare-full'), why), why);
    assert.equal(await ninth.isDisabled(), true, 'a ninth run cannot be ticked');
    assert.equal(await ninth.getAttribute('title'), why);
    assert.equal(await tick(1).isDisabled(), false, 'a ticked run can still be unticked');
    // The note is said aloud once the last tick fills the chart: through the live region, a moment
    // after it shows (spoken's delay), so waited for rather than read at once (that raced).
    await waitFor('the note to be said', async () => (await said()).includes(why), 5_000);
    const compare = page.getByTestId('compare-runs');
    assert.equal(await compare.textContent(), `Compare ${COMPARE_MAX_RUNS} runs`);

    // Unticking one frees a place: the ninth can be ticked, and the note is gone until it is full again.
    await tick(1).uncheck();
    await page.getByTestId('compare-full').waitFor({ state: 'detached' });
    assert.equal(await ninth.isDisabled(), false);
    assert.equal(await ninth.getAttribute('title'), null);
    await ninth.check();
    assert.equal(await tick(1).isDisabled(), true);
    await compare.click();
    const heading = page.getByTestId('run-compare').getByRole('heading', { name: /^Comparing \d+ runs$/ });
    assert.equal(
      await textWhen(heading, `Comparing ${COMPARE_MAX_RUNS} runs`),
      `Comparing ${COMPARE_MAX_RUNS} runs`,
    );
    assert.deepEqual(pageErrors, []);
  });
});
