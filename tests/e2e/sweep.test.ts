// End-to-end: "Try several values" on the Train wizard's last step, against the real `reft-studio
// serve` in Chromium. A bad value and too many runs are refused by name before anything is sent;
// the estimate and the intervention preview are of the sweep's first run (not of the draft's own
// values of what it varies, which no run trains);
// two learning rates on the demo model queue two runs (one sweep, all or none), both train to their
// end, and "Compare this sweep" — from the wizard's note, a run's row and its page — shows both on
// one chart with the learning rate as their only difference. Screenshots: tests/e2e/screenshots/sweep-*.png.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  completedRun,
  DEMO_DATASET,
  DEMO_MODEL,
  openPage,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

describe('Train wizard: try several values (reft-studio serve + Chromium)', {
  skip,
  timeout: 300_000,
}, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  const pageErrors: string[] = [];

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-sweep-')));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
      errors: pageErrors,
      url: server.url,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('two learning rates queue two runs of one sweep, both train, and compare on one chart', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Base model').selectOption({ label: DEMO_MODEL });
    await page.locator('#train-dataset').selectOption({ label: `${DEMO_DATASET} (12 rows)` });
    await page.getByLabel('Run name (optional)').fill('pirate');
    await page.getByRole('button', { name: /^Step \d: Training$/ }).click();
    await page.getByLabel('Epochs').fill('1');
    await page.getByLabel('Max steps').fill('2');
    await page.getByRole('button', { name: /^Step \d: Preview & start$/ }).click();
    const start = page.getByTestId('train-start');
    assert.equal(await textWhen(start, /Start training/), 'Start training');

    // The first option offered is the learning rate; focus goes to its values.
    await page.getByRole('button', { name: 'Try several values…' }).click();
    const values = page.getByLabel('Values of Learning rate, separated by commas');
    assert.equal(await values.evaluate((el) => el === document.activeElement), true);
    const problem = page.getByTestId('sweep-problem');
    await values.fill('1e-3, 99');
    assert.equal(await textWhen(problem, /got 99/), 'Learning rate must be at most 10 (got 99)');
    assert.equal(await start.isDisabled(), true, 'a bad value is refused before anything is sent');
    const described = () =>
      values.evaluate((el) => [
        el.getAttribute('aria-invalid'),
        document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? null,
      ]);
    assert.deepEqual(
      await described(),
      ['true', 'Learning rate must be at most 10 (got 99)'],
      'the field itself says why (the disabled Start, which says it too, is out of the Tab order)',
    );
    // A second option: a combination the model refuses, as one run with its options would be.
    await values.fill('1e-3, 4e-3');
    await page.getByTestId('sweep-runs').waitFor();
    assert.deepEqual(await described(), [null, null], 'good values: nothing said against them');
    await page.getByRole('button', { name: 'Vary another option' }).click();
    await page.getByLabel('Option to vary 2').selectOption('rank');
    await page.getByLabel('Values of Rank, separated by commas').fill('4, 999');
    assert.equal(
      await textWhen(problem, /got 999/),
      "“pirate · lr 1e-3 · rank 999”: Rank must be at most the model's hidden size, 64 (got 999).",
    );
    // 2 × 5 runs are more than a sweep queues.
    await page.getByLabel('Option to vary 2').selectOption('seed');
    await page.getByLabel('Values of Seed, separated by commas').fill('1, 2, 3, 4, 5');
    assert.match(await textWhen(problem, /^2 × 5 = 10 runs/), /^2 × 5 = 10 runs; a sweep queues at most 8/);
    await page.getByRole('button', { name: 'Remove Seed' }).click();
    assert.equal(
      await page
        .getByRole('button', { name: 'Vary another option' })
        .evaluate((el) => el === document.activeElement),
      true,
      'focus goes back to the button that adds an option',
    );

    // The estimate and the intervention preview are of the sweep's first run (layer 0 only), not of
    // the draft's own layers (all four), which no run of the sweep trains.
    await page.getByRole('button', { name: 'Vary another option' }).click();
    await page.getByLabel('Option to vary 2').selectOption('layers');
    const layerValues = page.getByLabel('Values of Layers, separated by bars');
    // The demo model has four layers: "all" and the four of them listed are one value.
    await layerValues.fill('all | 3;2;1;0');
    assert.equal(await textWhen(problem, /again/), 'Layers: “3;2;1;0” is “all” again.');
    await layerValues.fill('0 | 1;2');
    const first = 'For the sweep’s run 1 of 4, “pirate · lr 1e-3 · layers 0”.';
    assert.equal(await textWhen(page.getByTestId('est-of'), first), first);
    assert.equal(await textWhen(page.getByTestId('preview-of'), first), first);
    const interventions = page.getByTestId('intervention-preview').getByText(/^Interventions \(\d+\)/);
    assert.match(await textWhen(interventions, /^Interventions \(2\)/), /^Interventions \(2\)/);
    await page.getByRole('button', { name: 'Remove Layers' }).click();

    const runs = page.getByTestId('sweep-runs').getByRole('listitem');
    await page.getByTestId('sweep-runs').waitFor();
    assert.deepEqual(await runs.allTextContents(), ['pirate · lr 1e-3', 'pirate · lr 4e-3']);
    assert.equal(await textWhen(start, 'Queue 2 runs'), 'Queue 2 runs');
    await screenshot(page, 'sweep-1-values');
    await start.click();

    const note = page.getByTestId('sweep-queued');
    const said = await textWhen(note, /Queued 2 runs as sweep \d+/);
    const sweepId = Number(/sweep (\d+)/.exec(said)?.[1]);
    assert.equal(
      await note.evaluate((el) => el === document.activeElement),
      true,
      'the note gets focus, so a screen reader reads it',
    );
    const listed = await rpc(client, 'runs/list', {});
    const ours = listed.filter((r: { sweep: { id: number } | null }) => r.sweep?.id === sweepId);
    assert.deepEqual(ours.map((r: { name: string }) => r.name).sort(), [
      'pirate · lr 1e-3',
      'pirate · lr 4e-3',
    ]);
    for (const r of ours) await completedRun(client, r.id);

    // The note's link: both runs on one chart, the learning rate as their difference.
    await note.getByRole('link', { name: 'Compare this sweep' }).click();
    const compare = page.getByTestId('run-compare');
    await compare.getByRole('heading', { name: 'Comparing 2 runs' }).waitFor();
    const lrRow = page.getByTestId('config-compare').getByRole('row', { name: /^Learning rate/ });
    assert.deepEqual(await lrRow.getByRole('cell').allTextContents(), ['0.001', '0.004']);
    // "Only differences" (ticked to begin with): the learning rate alone, not each run's own adapter
    // and checkpoint folders; the full table has them.
    const settings = page.getByTestId('config-compare').locator('tbody th');
    assert.deepEqual(await settings.allTextContents(), ['Learning rate']);
    await compare.getByLabel('Only differences').uncheck();
    await settings.nth(1).waitFor();
    assert.ok((await settings.allTextContents()).includes('Adapter folder'), 'the full table has them');
    await screenshot(page, 'sweep-2-compare');

    // The Runs page: each row of the sweep links to it; a run's page says which sweep it is in.
    await page.getByRole('link', { name: 'Close the comparison' }).click();
    const rowLinks = page.getByRole('link', { name: `Compare sweep ${sweepId}` });
    assert.equal(await rowLinks.count(), 2);
    await page.getByRole('link', { name: 'pirate · lr 4e-3' }).click();
    const line = page.getByTestId('run-sweep');
    assert.equal(
      (await textWhen(line, /one of 2 runs/))?.replace(/\s+/g, ' ').trim(),
      `Sweep ${sweepId}, trying several values of learning rate: one of 2 runs. Compare this sweep`,
    );
    await line.getByRole('link', { name: 'Compare this sweep' }).click();
    await compare.getByRole('heading', { name: 'Comparing 2 runs' }).waitFor();
    await screenshot(page, 'sweep-3-run');
    assert.deepEqual(pageErrors, []);
  });
});
