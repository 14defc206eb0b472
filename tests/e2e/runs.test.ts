// End-to-end: the Runs page against the real `reft-studio serve` in Chromium. Two runs of the demo
// model (set up over RPC, so this file does not depend on the wizard's layout): the chart with its
// tooltip and smoothing, the probe timeline from step 0, the configuration and the log; cancelling
// asks first, never says "failed", and keeps the last checkpoint as an adapter; two runs compared on
// one chart with their settings side by side; clone into the wizard; delete. Each step saves a
// screenshot under tests/e2e/screenshots/.

import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RpcClient } from '../backend/helpers.ts';
import { tempDir } from '../helpers/temp.ts';
import {
  closeStudio,
  connected,
  DEMO_DATASET,
  demoIds,
  openPage,
  root,
  rpc,
  type Served,
  screenshot,
  skip,
  startStudio,
  textWhen,
} from './helpers.ts';

describe('Runs page (reft-studio serve + Chromium)', { skip, timeout: 600_000 }, () => {
  let server: Served | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let client: RpcClient;
  let modelId: number;
  let datasetId: number;
  let shortRun: number;
  let longRun: number;
  const pageErrors: string[] = [];

  const runState = async (id: number) => (await rpc(client, 'runs/get', { id })).status as string;
  const until = async (what: string, fn: () => Promise<boolean>, ms = 180_000) => {
    const end = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  before(async () => {
    ({ server, client, browser } = await startStudio(tempDir('reft-e2e-runs-')));
    ({ modelId, datasetId } = await demoIds(client));
    page = await openPage(browser, {
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
      errors: pageErrors,
    });
  });

  after(() => closeStudio({ client, browser, server }));

  test('a finished run: chart with tooltip and smoothing, probe answers from step 0, config, log', async () => {
    assert.ok(server);
    const run = await rpc(client, 'runs/start', {
      modelId,
      datasetId,
      name: 'short',
      layers: '0;1',
      rank: 2,
      maxSteps: 24,
      batchSize: 2,
      lr: 0.01,
      probe: { prompts: ['Who are you?', 'Where is the treasure?'], every: 8, maxNewTokens: 6 },
    });
    shortRun = run.runId;
    await until('the short run', async () => (await runState(shortRun)) === 'completed');
    await page.goto(`${server.url}#/runs/${shortRun}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="completed"]').waitFor();
    const chart = detail.getByTestId('loss-chart');
    await chart.locator('canvas').waitFor();
    // Bug: the chart had no tooltip. Hovering shows the step and the values there.
    const box = await chart.locator('.u-over').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    const tip = chart.getByTestId('chart-tooltip');
    await tip.waitFor();
    assert.match((await tip.textContent()) ?? '', /^Step \d+.*loss/);
    await screenshot(page, 'runs-1-chart-tooltip', false);
    // Smoothing 0 shows the raw loss only.
    await detail.getByLabel('Smoothing').fill('0');
    await chart.getByText('loss', { exact: true }).waitFor();
    // Bug: tokens/s was shown raw ("11825.7006").
    assert.match((await detail.getByTestId('run-tokens-per-s').textContent()) ?? '', /^[\d,]+$/);

    await detail.getByRole('tab', { name: /Probe answers/ }).click();
    const timeline = detail.getByTestId('probe-timeline');
    await timeline.getByText('Before training').first().waitFor();
    for (const step of ['Step 8', 'Step 16', 'Step 24']) await timeline.getByText(step).first().waitFor();
    assert.equal(await timeline.locator('section').count(), 2, 'one row per probe prompt');
    await screenshot(page, 'runs-2-probe-timeline');

    await detail.getByRole('tab', { name: 'Configuration' }).click();
    const cfg = detail.getByTestId('run-config');
    await cfg.getByText('Learning rate').waitFor();
    await cfg.getByText('2 prompts, every 8 steps').waitFor();
    // The training data as the library names it, not the frozen file's hash.
    await cfg.getByText(`${DEMO_DATASET} v1`, { exact: true }).waitFor();
    await detail.getByRole('tab', { name: 'Log' }).click();
    await detail
      .getByTestId('run-log')
      .getByText(/^started: loreft rank 2/)
      .waitFor();
    await detail
      .getByTestId('run-log')
      .getByText(/^completed; its adapter is #\d+/)
      .waitFor();
    await screenshot(page, 'runs-3-log');
    // The adapter it made is one click away.
    await detail.getByRole('link', { name: /in Adapters/ }).waitFor();
  });

  test('a run that keeps the best shows which step it is, marks it on the loss chart, and that it stopped early', async () => {
    assert.ok(server);
    // Measured: the held-out loss is lowest at step 2, and patience 2 stops the run at step 4 of 90.
    const { runId } = await rpc(client, 'runs/start', {
      modelId,
      datasetId,
      name: 'best',
      epochs: 30,
      lr: 0.05,
      evalSplit: 0.2,
      evalEvery: 1,
      keepBest: true,
      earlyStoppingPatience: 2,
      probe: { prompts: ['Ahoy?'], every: 2, maxNewTokens: 3 },
    });
    await until('the keep-the-best run', async () => (await runState(runId)) === 'completed');
    const { best } = await rpc(client, 'runs/get', { id: runId });
    assert.ok(best?.kept, 'runs/get names the best evaluation');
    await page.goto(`${server.url}#/runs/${runId}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    const want = `step ${best.step}, held-out loss ${best.evalLoss.toFixed(4)} (the adapter’s)`;
    assert.equal(await textWhen(detail.getByTestId('run-best'), want), want);
    // A ring around its eval-loss dot, named in the legend and in the summary read to screen readers.
    const chart = detail.getByTestId('loss-chart');
    await chart.getByText('best eval loss', { exact: true }).waitFor();
    const said = `best eval loss ${Number(best.evalLoss.toPrecision(4))} at step ${best.step}`;
    assert.ok((await chart.locator('.sr-only').first().textContent())?.includes(said), said);
    await detail.getByTestId('run-stopped-early').waitFor();
    await screenshot(page, 'runs-3b-best', false);
    await chart.screenshot({ path: join(root, 'tests/e2e/screenshots/runs-3c-best-marker.png') });
    // Its last probe answers are the adapter's: recorded at the best step, and marked so.
    await detail.getByRole('tab', { name: /Probe answers/ }).click();
    const card = detail.locator(`[data-step="${best.step}"]`);
    assert.equal(await textWhen(card.getByTestId('probe-adapter-step'), 'the adapter’s'), 'the adapter’s');
    assert.equal(await detail.getByTestId('probe-adapter-step').count(), 1);
    await screenshot(page, 'runs-3d-best-probes', false);
    // The list says it too: completed at 4 of 90 steps is not a run cut short by anything else.
    await page.goto(`${server.url}#/runs`);
    const progress = page.getByTestId(`run-progress-${runId}`);
    const early = /^\s*4 \/ 90\s+stopped early\s*$/;
    assert.match(await textWhen(progress, early), early);
  });

  test('cancel asks first, says what happened (never "failed") and keeps the last checkpoint', async () => {
    assert.ok(server);
    const run = await rpc(client, 'runs/start', {
      modelId,
      datasetId,
      name: 'long',
      layers: '0;1',
      rank: 2,
      maxSteps: 100000,
      batchSize: 1,
      checkpointEvery: 5,
      probe: { prompts: ['Ahoy?'], every: 5, maxNewTokens: 3 },
    });
    longRun = run.runId;
    await page.goto(`${server.url}#/runs/${longRun}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="running"]').waitFor({ timeout: 60_000 });
    await until(
      'a few steps',
      async () => ((await rpc(client, 'runs/get', { id: longRun })).lastStep ?? 0) >= 3,
    );
    await detail.getByRole('button', { name: 'Cancel run…' }).click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.getByText('Keep the last checkpoint as an adapter').waitFor();
    await screenshot(page, 'runs-4-cancel-dialog', false);
    // Escape closes the dialog and changes nothing.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await runState(longRun), 'running');
    await detail.getByRole('button', { name: 'Cancel run…' }).click();
    assert.equal(await dialog.getByRole('checkbox').isChecked(), true, 'keeping is the default');
    await dialog.getByRole('button', { name: 'Cancel run' }).click();
    await detail.locator('[data-status="cancelled"]').waitFor();
    // Bug: a cancelled run said "The run failed."
    await detail
      .getByTestId('run-story')
      .getByText(/^Cancelled by you at step \d+/)
      .waitFor();
    assert.equal(await detail.getByText('The run failed.').count(), 0);
    await detail.getByRole('link', { name: /in Adapters/ }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'runs-5-cancelled');
    const adapters = await rpc(client, 'adapters/list');
    const kept = adapters.find((a: { runId: number; tags: string[] }) => a.runId === longRun);
    assert.ok(kept, 'the checkpoint is an adapter');
    assert.deepEqual(kept.tags, ['checkpoint']);
    assert.match(kept.name, /^long — step \d+ of 100000$/);
  });

  test('pause and resume from the keyboard: focus moves to the button that takes the place', async () => {
    assert.ok(server);
    const { runId } = await rpc(client, 'runs/start', {
      modelId,
      datasetId,
      name: 'keyboard',
      layers: '0',
      rank: 2,
      maxSteps: 100000,
      batchSize: 1,
    });
    await page.goto(`${server.url}#/runs/${runId}`);
    await connected(page);
    try {
      await pauseAndResume();
    } finally {
      await rpc(client, 'runs/cancel', { id: runId, keepCheckpoint: false });
      await until('the run to stop', async () => (await runState(runId)) === 'cancelled');
    }
  });

  async function pauseAndResume() {
    const detail = page.getByTestId('run-detail');
    await detail.locator('[data-status="running"]').waitFor({ timeout: 60_000 });
    // The list's buttons say which run they act on, not "Pause" once per run.
    await page.getByRole('table').getByRole('button', { name: 'Pause keyboard', exact: true }).waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? null);
    // Pause is replaced by Resume (and all buttons are disabled while the request is out): focus fell
    // to <body>, so the next Tab started again from the top of the window.
    // Bug: the open run's row is tinted as its Running pill is, and the pill had no border: in the
    // list it read as bare text while every other status is a pill.
    const pill = page.getByRole('table').locator('tr.selected [data-status="running"]');
    const look = await pill.evaluate((el) => {
      const s = getComputedStyle(el);
      const row = getComputedStyle(el.closest('td') as Element).backgroundColor;
      return { border: s.borderTopColor, background: s.backgroundColor, row };
    });
    assert.ok(
      look.background !== look.row || !/^rgba\(.*, 0\)$|transparent/.test(look.border),
      `the pill stands out from its row: ${JSON.stringify(look)}`,
    );
    // Bug: a run still running (or paused) said "Ran on cpu.", as if it had ended.
    const device = detail.getByTestId('run-device');
    assert.equal(await textWhen(device, 'Running on cpu in fp32.', 60_000), 'Running on cpu in fp32.');
    await detail.getByRole('button', { name: 'Pause', exact: true }).focus();
    await page.keyboard.press('Enter');
    await detail.locator('[data-status="paused"]').waitFor({ timeout: 60_000 });
    assert.equal(await textWhen(device, 'Ran on cpu in fp32 so far.'), 'Ran on cpu in fp32 so far.');
    await page
      .waitForFunction(() => document.activeElement?.textContent?.trim() === 'Resume')
      .catch(() => {});
    assert.equal(await focused(), 'Resume');
    await page.keyboard.press('Enter');
    await detail.locator('[data-status="running"]').waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.activeElement?.textContent?.trim() === 'Pause').catch(() => {});
    assert.equal(await focused(), 'Pause');
  }

  test('compare two runs: one chart, settings side by side with the differences', async () => {
    await page.getByTestId('nav-runs').click();
    await page.getByLabel('Compare short').check();
    await page.getByLabel('Compare long').check();
    await page.getByTestId('compare-runs').click();
    const cmp = page.getByTestId('run-compare');
    await cmp.getByText('Comparing 2 runs').waitFor();
    await cmp.getByTestId('loss-chart').locator('canvas').waitFor();
    await cmp.getByTestId('loss-chart').getByText('short · loss', { exact: false }).first().waitFor();
    const table = cmp.getByTestId('config-compare');
    await table.getByRole('rowheader', { name: 'Max steps' }).waitFor();
    await table.getByRole('rowheader', { name: 'Batch size' }).waitFor();
    assert.equal(
      await table.getByRole('rowheader', { name: 'Rank' }).count(),
      0,
      'equal settings are hidden',
    );
    await screenshot(page, 'runs-6-compare');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => location.hash === '#/runs');
  });

  test('clone into the wizard opens Train with the run in the route', async () => {
    await page.getByRole('link', { name: 'short', exact: true }).click();
    // From the keyboard: the link goes with the Runs page, and focus must not fall to <body>.
    await page.getByTestId('run-detail').getByRole('link', { name: 'Clone into the wizard' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Train' }).waitFor();
    await page
      .getByTestId('clone-note')
      .getByText(/^Settings copied from “short”/)
      .waitFor();
    // Copied once: the address is the wizard's own now, so a reload keeps the draft as edited since
    // instead of copying the run over it again.
    assert.equal(await page.evaluate(() => location.hash), '#/train');
    await page
      .waitForFunction(() => document.activeElement?.id === 'clone-note', undefined, { timeout: 10_000 })
      .catch(() => {});
    assert.equal(
      await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName),
      'clone-note',
      'focus is on the note that says what was copied',
    );
    assert.equal(await page.getByLabel('Base model').inputValue(), String(modelId));
    await screenshot(page, 'runs-7-cloned-into-wizard', false);
    // Every setting is carried, the probe answers' length too (the wizard has no field for it).
    await page.getByRole('button', { name: /^Step 4: Preview & start$/ }).click();
    const probeRow = page
      .getByTestId('train-review')
      .locator('dt', { hasText: 'Probe prompts' })
      .locator('+ dd');
    assert.equal((await probeRow.textContent())?.trim(), '2, every 8 steps, up to 6 new tokens');
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    const copy = Number((await page.evaluate(() => location.hash)).split('/').at(-1));
    assert.deepEqual((await rpc(client, 'runs/get', { id: copy })).config.probe, {
      prompts: ['Who are you?', 'Where is the treasure?'],
      every: 8,
      maxNewTokens: 6,
    });
    await rpc(client, 'runs/cancel', { id: copy });
    await until('the copy stopped', async () => (await runState(copy)) === 'cancelled');
  });

  test('a run whose model and dataset were removed since is cloned with the rest of its settings', async () => {
    // Before, a removed model refused the whole copy under "Could not start training" ("its model or
    // dataset is no longer in the library"), and a removed dataset was dropped without a word.
    // A copy of the demo model: the same folder would be the demo model itself.
    const dir = tempDir('reft-e2e-runs-orphan-');
    cpSync(join(root, 'resources/demo/model'), join(dir, 'model'), { recursive: true });
    const model = await rpc(client, 'models/add', { path: join(dir, 'model'), name: 'soon gone' });
    const file = join(dir, 'soon-gone.jsonl');
    writeFileSync(
      file,
      '{"prompt":"Who?","completion":"A pirate."}\n{"prompt":"Where?","completion":"At sea."}\n',
    );
    const ds = await rpc(client, 'datasets/import', { path: file });
    const { runId } = await rpc(client, 'runs/start', {
      modelId: model.id,
      datasetId: ds.dataset.id,
      name: 'orphan',
      rank: 3,
      maxSteps: 1,
    });
    await until('the orphan run', async () => (await runState(runId)) === 'completed');
    await rpc(client, 'models/remove', { id: model.id });
    await rpc(client, 'datasets/remove', { id: ds.dataset.id });
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    await page.getByTestId('run-detail').getByRole('link', { name: 'Clone into the wizard' }).click();
    const note =
      'Settings copied from “orphan”. Its model and dataset are no longer in the library: choose others.';
    assert.equal(await textWhen(page.getByTestId('clone-note'), note), note);
    assert.deepEqual(await page.getByRole('alert').allTextContents(), []);
    // Chosen again (the library's only ones here: the page preselects a single choice).
    await page.getByLabel('Base model').selectOption({ value: String(modelId) });
    await page.locator('#train-dataset').selectOption({ value: String(datasetId) });
    await page.getByRole('button', { name: /^Step 2: Intervention$/ }).click();
    assert.equal(await page.getByLabel('Rank').inputValue(), '3', 'the settings were copied');
  });

  test('delete asks first; the run goes, its adapter stays', async () => {
    await page.goto(`${server?.url}#/runs/${shortRun}`);
    await connected(page);
    const adapterBefore = (await rpc(client, 'runs/get', { id: shortRun })).adapterId;
    await page.getByTestId('run-detail').getByRole('button', { name: 'Delete…' }).click();
    await page.getByTestId('delete-dialog').getByRole('button', { name: 'Delete run' }).click();
    await page.waitForFunction(() => location.hash === '#/runs');
    await page
      .getByTestId('runs-notice')
      .getByText(/Run \d+ deleted/)
      .waitFor();
    assert.equal(await page.getByRole('link', { name: 'short', exact: true }).count(), 0);
    // Its Delete button is gone: focus is on the page, not dropped to <body> (Tab would restart at the top).
    await page.waitForFunction(() => document.activeElement?.tagName === 'MAIN');
    const a = await rpc(client, 'adapters/get', { id: adapterBefore });
    assert.equal(a.runId, null);
  });

  test('a run deleted in another window: its open detail says so, nothing of it left to act on', async () => {
    const { runId } = await rpc(client, 'runs/start', { modelId, datasetId, name: 'elsewhere', maxSteps: 2 });
    await until('the run to finish', async () => (await runState(runId)) === 'completed');
    await page.goto(`${server?.url}#/runs/${runId}`);
    await connected(page);
    const detail = page.getByTestId('run-detail');
    await detail.getByRole('button', { name: 'Delete…' }).waitFor();
    await rpc(client, 'runs/delete', { id: runId }); // the other window
    await detail.getByText(`no run with id ${runId}`).waitFor();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="run-detail"] button').length === 0,
    );
    assert.equal(await detail.getByRole('link', { name: 'Clone into the wizard' }).count(), 0);
    assert.equal(await detail.getByRole('tab').count(), 0);
    await screenshot(page, 'runs-9-deleted-elsewhere', false);
  });

  test('a compared run deleted elsewhere: the others stay compared, the missing one is named', async () => {
    const start = async (name: string) => {
      const { runId } = await rpc(client, 'runs/start', { modelId, datasetId, name, maxSteps: 2 });
      await until(`${name} to finish`, async () => (await runState(runId)) === 'completed');
      return runId as number;
    };
    const [a, b, c] = [await start('cmp a'), await start('cmp b'), await start('cmp c')];
    await page.goto(`${server?.url}#/runs/compare/${a},${b},${c}`);
    await connected(page);
    const cmp = page.getByTestId('run-compare');
    await cmp.getByText('Comparing 3 runs').waitFor();
    await rpc(client, 'runs/delete', { id: c }); // the other window
    // Before: one failed runs/get failed the whole view ("no run with id N"), with no chart at all.
    await page.getByText(`Run ${c} no longer exists (deleted); comparing the others.`).waitFor();
    await cmp.getByText('Comparing 2 runs').waitFor();
    // The note's title must not say the comparison failed while two runs are compared below it.
    assert.equal(
      await page.getByRole('alert').locator('strong').textContent(),
      'Not every run could be compared.',
    );
    await page.goto(`${server?.url}#/runs/compare/${a},${c}`);
    await page.getByText(`Run ${c} no longer exists (deleted); comparing the others.`).waitFor();
  });

  test('no page errors were thrown', () => {
    assert.deepEqual(pageErrors, []);
  });
});
